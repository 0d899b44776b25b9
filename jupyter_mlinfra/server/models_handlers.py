"""REST handlers of the model store (under ``/mlinfra/api``); see openapi/models.json."""

from __future__ import annotations

import asyncio
import threading

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.ioloop import IOLoop

from ..core.errors import InvalidInput, MLInfraError, quote
from ..core.models.deploy import records_from_body
from ..core.models.versions import ModelRef, parse_key_values
from .base import MLInfraHandler

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"
VERSION = r"(?P<version>[0-9]+)"

_cache_lock = threading.Lock()


class _ModelsHandler(MLInfraHandler):
    @property
    def store(self):
        return self.workspace.service("models")

    def filters(self) -> dict:
        return {"owner": self.query("owner") or None,
                "tags": parse_key_values(self.get_query_arguments("tag"), "tag"),
                "metrics": self.get_query_arguments("metric"),
                "include_archived": self.query("archived", "false") in ("1", "true", "yes")}


class ModelsHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send_json({"models": self.store.list_models(self.query("q") or None,
                                                         **self.filters())})


class ModelVersionsSearchHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        versions = self.store.search(self.query("q") or None, **self.filters())
        self.send_json({"versions": [v.to_dict(full=False) for v in versions]})


class ModelHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        d = self.store.describe_model(name)
        d["versions"] = [v.to_dict(full=False) for v in d["versions"]]
        self.send_json(d)

    @web.authenticated
    @authorized
    def patch(self, name: str) -> None:
        body = self.json_body()
        self.send_json(self.store.update(name, description=body.get("description"),
                                         tags=body.get("tags"),
                                         remove_tags=body.get("remove_tags")))


class ModelVersionHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def get(self, name: str, version: str) -> None:
        self.send_json(self.store.get(ModelRef(name, version=int(version))).to_dict(full=True))

    @web.authenticated
    @authorized
    def patch(self, name: str, version: str) -> None:
        body = self.json_body()
        ref = f"{name}:{version}"
        if "archived" in body:
            if not isinstance(body["archived"], bool):
                raise InvalidInput("archived must be true or false")
            self.store.archive(ref, archived=body["archived"])
        if "description" in body or "tags" in body:
            self.store.update(name, version=int(version), description=body.get("description"),
                              tags=body.get("tags"))
        self.send_json(self.store.get(ref).to_dict(full=True))


class ModelArtifactHandler(_ModelsHandler):
    """The bytes of one artifact (figures for the panel, the notebook snapshot, sources),
    verified against the catalog's checksum."""

    @web.authenticated
    @authorized
    def get(self, name: str, version: str, artifact: str) -> None:
        v = self.store.get(ModelRef(name, version=int(version)))
        data = self.store.read_artifact(v, artifact)
        entry = v.artifact(artifact)
        self.set_header("Content-Type", entry.get("media_type") or "application/octet-stream")
        if entry.get("media_type", "").startswith(("application/octet", "application/x-ipynb")):
            self.set_header("Content-Disposition",
                            f'attachment; filename="{artifact.rsplit("/", 1)[-1]}"')
        self.finish(data)


class ModelAliasHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def put(self, name: str, alias: str) -> None:
        body = self.json_body()
        if "version" not in body:
            raise InvalidInput('send {"version": N}')
        protected = body.get("protected")
        if protected is not None and not isinstance(protected, bool):
            raise InvalidInput("protected must be true or false")
        self.send_json(self.store.set_alias(name, alias, str(body["version"]),
                                            protected=protected))

    @web.authenticated
    @authorized
    def delete(self, name: str, alias: str) -> None:
        self.store.delete_alias(name, alias)
        self.set_status(204)
        self.finish()


class ModelCompareHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        a, b = self.query("a"), self.query("b")
        if not a or not b:
            raise InvalidInput("give two versions: ?a=1&b=2 (numbers or @alias)")

        def ref(x: str) -> str:
            return f"{name}{x}" if x.startswith("@") else f"{name}:{x}"

        self.send_json(self.store.compare(ref(a), ref(b)))


class ModelReproduceHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        body = self.json_body()
        tolerance = body.get("tolerance")
        store = self.store
        # papermill in a worker thread (IOLoop's executor: no event loop leaks into it)
        result = await IOLoop.current().run_in_executor(
            None, lambda: store.reproduce(f"{name}:{version}", tolerance=tolerance))
        self.send_json(result)


class ModelPredictHandler(_ModelsHandler):
    """JSON records in, predictions out, with the stored featurize then predict. The loaded
    model is cached per version (an alias is re-resolved on every request, so moving it takes
    effect at once)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        records = records_from_body(body)
        if body.get("version") is not None:
            ref = f"{name}:{int(body['version'])}"
        elif body.get("alias"):
            ref = f"{name}@{body['alias']}"
        else:
            ref = name
        store = self.store
        version = store.get(ref)
        records = self.fill_online_features(version, records, body)
        cache = self.settings.setdefault("mlinfra_loaded_models", {})
        loaded = cache.get(version.id)
        if loaded is None:
            loaded = await asyncio.to_thread(store.load, version.ref, warn=False)
            with _cache_lock:
                if len(cache) > 16:
                    cache.clear()
                cache[version.id] = loaded
        try:
            predictions = await asyncio.to_thread(loaded.predict_records, records)
        except MLInfraError:
            raise
        except Exception as exc:  # the model refused these records (missing or odd columns)
            raise InvalidInput(f"{version.ref} cannot predict these records: "
                               f"{type(exc).__name__}: {quote(str(exc))[1:-1]}") from None
        self.send_json({"model": name, "version": version.version, "predictions": predictions})

    def fill_online_features(self, version, records: list[dict], body: dict) -> list[dict]:
        from ..core.models.online import fill_features

        return fill_features(self.workspace, version, records, body.get("features"))


ROUTES: list[tuple[str, type]] = [
    (r"/models", ModelsHandler),
    (r"/model-versions", ModelVersionsSearchHandler),
    (rf"/models/{NAME}", ModelHandler),
    (rf"/models/{NAME}/versions/{VERSION}", ModelVersionHandler),
    (rf"/models/{NAME}/versions/{VERSION}/artifacts/(?P<artifact>[A-Za-z0-9_.\-/=@+]+)",
     ModelArtifactHandler),
    (rf"/models/{NAME}/versions/{VERSION}/reproduce", ModelReproduceHandler),
    (rf"/models/{NAME}/aliases/(?P<alias>[A-Za-z][A-Za-z0-9_\-]*)", ModelAliasHandler),
    (rf"/models/{NAME}/compare", ModelCompareHandler),
    (rf"/models/{NAME}/predict", ModelPredictHandler),
]
