"""The feature store over REST: list, describe, materialize, push, online, training frame,
visibility per Jupyter user, and the OpenAPI description."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import HTTPClientError


class AliceIdentity(IdentityProvider):
    """Every token-authenticated request is the Jupyter user "alice" (not a random one)."""

    def generate_anonymous_user(self, handler):
        return User(username="alice", name="alice", display_name="Alice")


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": AliceIdentity,
        }
    }


async def make_spend(jp_fetch):
    """A public view owned by the Jupyter user the test requests come from."""
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    user = json.loads((await jp_fetch("mlinfra", "api", "health")).body)["user"]
    ws = Workspace(resolve_config(), user=user)
    fs = ws.service("features")
    fs.register_entity("customer", ["customer_id"])
    fs.register_view(
        "spend",
        entities="customer",
        ttl="2d",
        tags=["billing"],
        source=pd.DataFrame(
            {
                "customer_id": [1, 1, 2],
                "event_timestamp": pd.to_datetime(
                    ["2024-01-01", "2024-01-02", "2024-01-02"], utc=True
                ),
                "amount": [10.0, 30.0, 5.0],
            }
        ),
        visibility="public",
    )
    return fs


async def call(jp_fetch, *path, method="GET", body=None, **params):
    kwargs = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if params:
        kwargs["params"] = params
    response = await jp_fetch("mlinfra", "api", "features", *path, **kwargs)
    return json.loads(response.body)


async def test_list_describe_materialize_sample(jp_fetch, mlinfra_env):
    await make_spend(jp_fetch)
    views = (await call(jp_fetch, q="amount"))["items"]
    assert [v["name"] for v in views] == ["spend"]
    done = await call(
        jp_fetch,
        "views",
        "spend",
        "materialize",
        method="POST",
        body={"end": "2024-02-01T00:00:00Z"},
    )
    assert done["rows"] == 3 and done["files"] == 2
    info = await call(jp_fetch, "views", "spend")
    assert info["statistics"]["features"]["amount"]["max"] == 30.0
    assert info["freshness"]["offline_rows"] == 3
    sample = await call(jp_fetch, "views", "spend", "sample", n="2")
    assert sample["columns"] == ["customer_id", "event_timestamp", "amount"]
    assert len(sample["rows"]) == 2


async def test_push_online_and_training_frame(jp_fetch, mlinfra_env):
    await make_spend(jp_fetch)
    now = pd.Timestamp.now(tz="UTC").isoformat()
    pushed = await call(
        jp_fetch,
        "views",
        "spend",
        "push",
        method="POST",
        body={"rows": [{"customer_id": 5, "event_timestamp": now, "amount": 2.5}]},
    )
    assert pushed["rows"] == 1
    online = await call(
        jp_fetch,
        "online",
        method="POST",
        body={
            "features": ["spend:amount"],
            "entity_rows": [{"customer_id": 5}, {"customer_id": 6}],
        },
    )
    assert online["rows"][0]["amount"] == 2.5
    assert [s["amount"] for s in online["status"]] == ["present", "not_found"]
    frame = await call(
        jp_fetch,
        "training-frame",
        method="POST",
        body={
            "features": ["spend:amount"],
            "entity_rows": [
                {"customer_id": 5, "event_timestamp": now},
                {"customer_id": 1, "event_timestamp": now},
            ],
        },
    )
    assert frame["columns"] == ["customer_id", "event_timestamp", "amount"]
    assert [r[2] for r in frame["rows"]] == [2.5, None]
    assert frame["lineage"]["views"][0]["name"] == "spend"


async def test_errors_and_ownership(jp_fetch, mlinfra_env):
    await make_spend(jp_fetch)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "features", "views", "nope")
    assert err.value.code == 404
    assert json.loads(err.value.response.body)["error"]["code"] == "not_found"
    with pytest.raises(HTTPClientError) as err:
        await call(
            jp_fetch,
            "online",
            method="POST",
            body={"features": ["spend:nope"], "entity_rows": [{}]},
        )
    assert err.value.code == 404
    with pytest.raises(HTTPClientError) as err:
        await call(jp_fetch, "views", "spend", method="PATCH", body={"transform": "x"})
    assert err.value.code == 400
    # Another user sees the public view but cannot change or delete it.
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    other = Workspace(resolve_config(), user="someone-else").service("features")
    assert [v["name"] for v in other.list_views()] == ["spend"]
    other.register_view(
        "mine", entities="customer", schema={"customer_id": "int64", "x": "float64"}
    )
    with pytest.raises(HTTPClientError) as err:
        await call(jp_fetch, "views", "mine", method="DELETE")
    assert err.value.code == 404  # private to someone-else: invisible here
    other.update_view("mine", visibility="public")
    with pytest.raises(HTTPClientError) as err:
        await call(jp_fetch, "views", "mine", method="DELETE")
    assert err.value.code == 403
    deleted = await jp_fetch("mlinfra", "api", "features", "views", "spend", method="DELETE")
    assert deleted.code == 204 and not deleted.body
    other.close()


async def test_openapi_describes_the_feature_routes(jp_fetch):
    doc = json.loads((await jp_fetch("mlinfra", "api", "openapi.json")).body)
    for path in (
        "/features",
        "/features/views/{name}",
        "/features/online",
        "/features/training-frame",
        "/features/views/{name}/materialize",
    ):
        assert path in doc["paths"], path
    assert "TrainingFrameLineage" in doc["components"]["schemas"]
