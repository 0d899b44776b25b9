import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}}}
