"""REST handlers of the feature store (under ``/mlinfra/api/features``); see
openapi/features.json. Views are defined from Python (their transform is code); everything
else is here."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput, quote
from .base import MLInfraHandler

NAME = r"(?P<name>[A-Za-z][A-Za-z0-9_]*)"
MAX_FRAME_ROWS = 100_000


def frame_json(df) -> dict:
    """A DataFrame as ``{"columns", "rows"}`` with ISO timestamps and nulls."""
    data = json.loads(
        df.to_json(orient="split", date_format="iso", index=False, default_handler=str)
    )
    return {"columns": data["columns"], "rows": data["data"]}


class _FeaturesHandler(MLInfraHandler):
    @property
    def features(self):
        # The server's one service (online-store connection, DuckDB), seen as this user.
        return self.workspace.service("features")


class FeatureViewsHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                self.features.list_views_page,
                text=self.query("q") or None,
                owner=self.query("owner") or None,
                tag=self.get_query_arguments("tag") or None,
                entity=self.query("entity") or None,
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )


class FeatureEntitiesHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            await self.call(
                self.features.list_entities_page,
                q=self.query("q") or None,
                owner=self.query("owner") or None,
                limit=self.query("limit"),
                offset=self.query("offset"),
                cursor=self.query("cursor"),
            )
        )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        if not body.get("name"):
            raise InvalidInput("'name' is required")
        out = await self.call(
            self.features.register_entity,
            body["name"],
            body.get("join_keys"),
            body.get("description", ""),
        )
        self.send_json(out, status=201)


class FeatureViewHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        version = self.query("version")
        stats = self.query("statistics", "true") not in ("0", "false", "no")
        info = await self.call(
            self.features.describe, name, int(version) if version else None, statistics=stats
        )
        self.send_json(info)

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        body = self.json_body()
        unknown = set(body) - {"description", "tags", "visibility", "ttl"}
        if unknown:
            raise InvalidInput(
                f"cannot change {sorted(unknown)} over REST: change the "
                "definition from Python (a new version)"
            )
        self.send_json(await self.call(self.features.update_view, name, **body))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.features.delete_view, name)
        self.set_status(204)
        self.finish()


class FeatureSampleHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        try:
            n = int(self.query("n") or "10")
        except ValueError:
            raise InvalidInput("n must be an integer") from None
        df = await self.call(self.features.sample, name, n)
        self.send_json(await self.call(frame_json, df))


class FeatureMaterializeHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        out = await self.call(
            self.features.materialize, name, start=body.get("start"), end=body.get("end")
        )
        self.send_json(out)


class FeaturePushHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        rows = self.json_body().get("rows")
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("'rows' must be a non-empty list of objects")
        self.send_json(await self.call(self.features.push, name, rows))


class FeatureOnlineHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        features, rows = body.get("features"), body.get("entity_rows")
        if not features or not isinstance(rows, list):
            raise InvalidInput("'features' and 'entity_rows' (a list of objects) are required")
        found = await self.call(self.features.get_online_features, features, rows)
        self.send_json(found.to_json())


class FeatureTrainingFrameHandler(_FeaturesHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        rows = body.get("entity_rows")
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("'entity_rows' must be a non-empty list of objects")
        if len(rows) > MAX_FRAME_ROWS:
            raise InvalidInput(
                f"at most {MAX_FRAME_ROWS} entity rows over REST; use the "
                "Python API or `jupyter mlinfra feature frame` for more"
            )
        self.send_json(await self.call(_training_frame, self.features, body, rows))


def _training_frame(features, body: dict, rows: list) -> dict:
    import pandas as pd

    entity_df = pd.DataFrame(rows)
    ts = body.get("timestamp_column") or "event_timestamp"
    if ts in entity_df.columns:
        try:
            entity_df[ts] = pd.to_datetime(entity_df[ts], utc=True, format="ISO8601")
        except (TypeError, ValueError, OverflowError):
            raise InvalidInput(
                f"entity_rows: every {quote(ts)} must be an ISO 8601 timestamp"
            ) from None
    frame = features.get_training_frame(
        entity_df,
        body.get("features"),
        timestamp_column=ts,
        full_feature_names=bool(body.get("full_feature_names")),
    )
    lineage = frame.attrs.pop("mlinfra_lineage")
    return {**frame_json(frame), "lineage": lineage}


FEATURE_ROUTES: list[tuple[str, type]] = [
    (r"/features", FeatureViewsHandler),
    (r"/features/entities", FeatureEntitiesHandler),
    (r"/features/online", FeatureOnlineHandler),
    (r"/features/training-frame", FeatureTrainingFrameHandler),
    (rf"/features/views/{NAME}", FeatureViewHandler),
    (rf"/features/views/{NAME}/sample", FeatureSampleHandler),
    (rf"/features/views/{NAME}/materialize", FeatureMaterializeHandler),
    (rf"/features/views/{NAME}/push", FeaturePushHandler),
]

# remote mode's feature doors (sources, transforms, compaction, usage): their own module
from .remote_features_handlers import REMOTE_FEATURE_ROUTES  # noqa: E402

FEATURE_ROUTES += REMOTE_FEATURE_ROUTES
