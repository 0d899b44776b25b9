import pytest


@pytest.fixture(scope="session")
def _ipython_session():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    # start_ipython() returns None when another test module started the shell first
    return start_ipython() or get_ipython()


@pytest.fixture
def ip(_ipython_session, mlinfra_env):
    """A real InteractiveShell with `%load_ext jupyter_mlinfra` done, on a fresh home."""
    shell = _ipython_session
    shell.run_line_magic("load_ext", "jupyter_mlinfra")
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_mlinfra")
