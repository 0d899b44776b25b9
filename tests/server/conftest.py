import pytest
from jupyter_server.auth.identity import IdentityProvider, User


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}}}


class HubUser(User):
    """A user as JupyterHub's identity provider gives it: the Hub's model in ``hub_user``."""

    def __init__(self, hub_user: dict) -> None:
        self.hub_user = hub_user
        super().__init__(username=hub_user["name"])


class NamedUsers(IdentityProvider):
    """A stand-in for JupyterHub's identity provider: each token-authenticated request is the
    user named by its ``X-Test-User`` header (default alice), in the groups listed by
    ``X-Test-Groups`` (comma-separated), as the Hub would authenticate them."""

    def generate_anonymous_user(self, handler):
        headers = handler.request.headers
        groups = [g for g in headers.get("X-Test-Groups", "").split(",") if g]
        return HubUser(
            {"name": headers.get("X-Test-User", "alice"), "groups": groups, "admin": False}
        )


@pytest.fixture
def as_user(jp_fetch):
    """``await as_user("bob", "fraud")("mlinfra", "api", ...)``: jp_fetch as a named user
    with groups (needs ``identity_provider_class: NamedUsers`` in jp_server_config)."""

    def acting(user: str, *groups: str):
        async def fetch(*parts, headers=None, **kwargs):
            return await jp_fetch(
                *parts,
                headers={"X-Test-User": user, "X-Test-Groups": ",".join(groups), **(headers or {})},
                **kwargs,
            )

        return fetch

    return acting
