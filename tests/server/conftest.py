import pytest

@pytest.fixture
def jp_server_config(mlinfra_env):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}}}
