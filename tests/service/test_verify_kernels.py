"""A verify the central service runs executes the notebook in a kernel without the service's
credentials, and with a token acting as the caller while the verify runs: mlinfra calls in
a verified notebook work there, as the one who asked for the verify, and the token is spent
once the verify ends."""

from __future__ import annotations

import json

import requests
from service_notebooks import saved_notebook

NOTEBOOK = saved_notebook(
    [
        (
            "import os\n"
            "from jupyter_mlinfra.core.workspace import get_workspace\n"
            "_ = open('verify-token.txt', 'w').write(os.environ.get('MLINFRA_SERVICE_TOKEN', ''))",
            "",
        ),
        ("get_workspace().health()['user']", "'alice'"),
        ("[k for k in os.environ if k in ('MLINFRA_CATALOG_URL', 'AWS_SECRET_ACCESS_KEY')]", "[]"),
    ]
)


def test_a_verified_notebook_calls_mlinfra_as_the_caller(service, remote):
    (service.root / "as-caller.ipynb").write_text(json.dumps(NOTEBOOK))
    alice = remote(service, "alice").service("provenance")
    result = alice.verify("as-caller.ipynb")
    assert result.ok, result.to_text()
    assert result.counts["mismatch"] == 0
    # the kernel's token was the caller's for the verify only: spent now
    token = (service.root / "verify-token.txt").read_text()
    assert token.startswith("mlinfra-run.")
    r = requests.get(
        service.url + "mlinfra/api/health",
        headers={"Authorization": f"token {token}"},
        timeout=60,
    )
    assert r.status_code == 403, r.text
    # bob's verify of the same notebook acts as bob (its output differs from alice's)
    bob = remote(service, "bob").service("provenance")
    result = bob.verify("as-caller.ipynb")
    assert not result.ok and result.counts["mismatch"] == 1
    assert "'bob'" in result.to_text()
