"""REST handlers of the model store (under ``/mlinfra/api``); see openapi/models.json."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import IntegrityError, InvalidInput, NotFound
from ..core.models.deploy import records_from_body
from ..core.models.predictions import predict
from ..core.models.versions import ModelRef
from .base import STREAM_CHUNK_BYTES, MLInfraHandler
from .jobs_handlers import ARTIFACT_POLICY, artifact_media_type
from .request_validation import query_bool

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"
VERSION = r"(?P<version>[0-9]+)"


class _ModelsHandler(MLInfraHandler):
    @property
    def store(self):
        return self.workspace.service("models")

    def filters(self) -> dict:
        return {
            "owner": self.query("owner") or None,
            "tags": self.get_query_arguments("tag"),
            "metrics": self.get_query_arguments("metric"),
            "include_archived": query_bool(self.query("archived"), "archived", False),
        }


class ModelsHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                self.store.list_models_page,
                self.query("q") or None,
                **self.filters(),
                **self.page(),
            )
        )

    def page(self) -> dict:
        return {
            "limit": self.query("limit"),
            "offset": self.query("offset"),
            "cursor": self.query("cursor"),
        }


class ModelVersionsSearchHandler(ModelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                self.store.search_page, self.query("q") or None, **self.filters(), **self.page()
            )
        )


class ModelVersionsHandler(ModelsHandler):
    """A model's versions, newest first (archived ones included unless ?archived=false)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.send_json(
            await self.call(
                self.store.versions_page,
                name,
                include_archived=query_bool(self.query("archived"), "archived", True),
                **self.page(),
            )
        )


class ModelHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        d = await self.call(self.store.describe_model, name)
        d["versions"] = [v.to_dict(full=False) for v in d["versions"]]
        self.send_json(d)

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        body = self.json_body()
        self.send_json(
            await self.call(
                self.store.update,
                name,
                description=body.get("description"),
                tags=body.get("tags"),
                remove_tags=body.get("remove_tags"),
            )
        )


class ModelVersionHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        found = await self.call(self.store.get, ModelRef(name, version=int(version)))
        self.send_json(found.to_dict(full=True))

    @web.authenticated
    @authorized
    async def patch(self, name: str, version: str) -> None:
        body = self.json_body()
        if "archived" in body and not isinstance(body["archived"], bool):
            raise InvalidInput("archived must be true or false")
        self.send_json(await self.call(_patch_version, self.store, name, int(version), body))


class ModelArtifactHandler(_ModelsHandler):
    """The bytes of one artifact (figures for the panel, the notebook snapshot, sources, the
    model itself for a remote load), verified against the catalog's checksum. One larger
    than ``STREAM_CHUNK_BYTES`` is read from the store and sent chunk by chunk (the server
    never holds a large model whole); its checksum is checked as it goes (a corrupted blob
    ends the answer early, and the client's own check refuses it)."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str, artifact: str) -> None:
        store = self.store
        v = await self.call(store.get, ModelRef(name, version=int(version)))
        entry = v.artifact(artifact)
        if entry is None:
            raise NotFound(f"{v.ref} has no artifact {artifact!r}")
        media_type = entry.get("media_type") or "application/octet-stream"
        if media_type.startswith("application/octet"):
            # a file saved with the model (files/report.csv) is previewed as its type
            media_type = artifact_media_type(artifact) or media_type
        if media_type.startswith(("application/octet", "application/x-ipynb")) or query_bool(
            self.query("download"), "download", False
        ):
            self.set_header(
                "Content-Disposition", f'attachment; filename="{artifact.rsplit("/", 1)[-1]}"'
            )
        # no script in an artifact runs with the user's credentials (an .svg, an .html)
        self.set_header("Content-Security-Policy", ARTIFACT_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Artifact-Size", str(int(entry.get("size") or 0)))
        limit = self.query("limit")
        if limit is not None and int(limit) < int(entry.get("size") or 0):
            await self.send_bytes(
                await self.call(_first_bytes, self.workspace, entry, int(limit)), media_type
            )
            return
        if int(entry.get("size") or 0) > STREAM_CHUNK_BYTES:
            await self._stream(entry, media_type)
            return
        data = await self.call(store.read_artifact, v, artifact)
        await self.send_bytes(data, media_type)

    async def _stream(self, entry: dict, media_type: str) -> None:
        artifacts = self.workspace.artifacts
        info = await self.call(artifacts.stat, entry["key"])
        if info.sha256 != entry["sha256"]:
            raise IntegrityError(
                f"artifact {entry['name']} was replaced: the catalog recorded another checksum"
            )
        reader = await self.call(artifacts.open, entry["key"])
        try:
            self.set_header("Content-Type", media_type)
            self.set_header("Content-Length", str(info.size))
            while chunk := await self.call(reader.read, STREAM_CHUNK_BYTES):
                self.write(chunk)
                await self.flush()
        finally:
            await self.call(reader.close)
        self.finish()


def _first_bytes(workspace, entry: dict, limit: int) -> bytes:
    """The first ``limit`` bytes of an artifact (a preview), once the stored object is
    the one the catalog recorded (a prefix cannot be checked against the checksum)."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, got {limit}")
    artifacts = workspace.artifacts
    if artifacts.stat(entry["key"]).sha256 != entry["sha256"]:
        raise IntegrityError(
            f"artifact {entry['name']} was replaced: the catalog recorded another checksum"
        )
    with artifacts.open(entry["key"]) as reader:
        return reader.read(limit)


def _patch_version(store, name: str, version: int, body: dict) -> dict:
    ref = f"{name}:{version}"
    if "archived" in body:
        store.archive(ref, archived=body["archived"])
    if "description" in body or "tags" in body:
        store.update(
            name, version=version, description=body.get("description"), tags=body.get("tags")
        )
    return store.get(ref).to_dict(full=True)


class ModelAliasHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        body = self.json_body()
        if "version" not in body:
            raise InvalidInput('send {"version": N}')
        protected = body.get("protected")
        if protected is not None and not isinstance(protected, bool):
            raise InvalidInput("protected must be true or false")
        self.send_json(
            await self.call(
                self.store.set_alias, name, alias, str(body["version"]), protected=protected
            )
        )

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        await self.call(self.store.delete_alias, name, alias)
        self.set_status(204)
        self.finish()


class ModelCompareHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        a, b = self.query("a"), self.query("b")
        if not a or not b:
            raise InvalidInput("give two versions: ?a=1&b=2 (numbers or @alias)")

        def ref(x: str) -> str:
            return f"{name}{x}" if x.startswith("@") else f"{name}:{x}"

        self.send_json(await self.call(self.store.compare, ref(a), ref(b)))


class ModelReproduceHandler(_ModelsHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        body = self.json_body()
        # papermill in a worker thread (no event loop leaks into it)
        self.send_json(
            await self.call(
                self.store.reproduce, f"{name}:{version}", tolerance=body.get("tolerance")
            )
        )


class ModelPredictHandler(_ModelsHandler):
    """JSON records in, predictions out (``core.models.predictions.predict``: loaded models
    stay in memory; an alias is re-resolved on every request)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        records = records_from_body(body)
        version = int(body["version"]) if body.get("version") is not None else None
        self.send_json(
            await self.call(
                predict,
                self.workspace,
                name,
                records,
                version=version,
                alias=body.get("alias"),
                features=body.get("features"),
            )
        )


ROUTES: list[tuple[str, type]] = [
    (r"/models", ModelsHandler),
    (r"/model-versions", ModelVersionsSearchHandler),
    (rf"/models/{NAME}", ModelHandler),
    (rf"/models/{NAME}/versions", ModelVersionsHandler),
    (rf"/models/{NAME}/versions/{VERSION}", ModelVersionHandler),
    (
        rf"/models/{NAME}/versions/{VERSION}/artifacts/(?P<artifact>[A-Za-z0-9_.\-/=@+]+)",
        ModelArtifactHandler,
    ),
    (rf"/models/{NAME}/versions/{VERSION}/reproduce", ModelReproduceHandler),
    (rf"/models/{NAME}/aliases/(?P<alias>[A-Za-z][A-Za-z0-9_\-]*)", ModelAliasHandler),
    (rf"/models/{NAME}/compare", ModelCompareHandler),
    (rf"/models/{NAME}/predict", ModelPredictHandler),
]
