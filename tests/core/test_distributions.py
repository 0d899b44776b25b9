"""The inventory of installed distributions (a run's environment, a model's lock): names and
versions as each distribution declares them, read from the metadata's headers only."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

from jupyter_mlinfra.core.distributions import _name_and_version, installed_distributions


def _dist(tmp_path, dirname: str, text: str, filename: str = "METADATA"):
    folder = tmp_path / dirname
    folder.mkdir()
    (folder / filename).write_bytes(text.encode())
    return metadata.PathDistribution(folder)


def test_name_and_version_come_from_the_headers_not_the_description(tmp_path):
    dist = _dist(
        tmp_path,
        "Some_Thing-1.2.dist-info",
        "Metadata-Version: 2.1\nName: Some-Thing\nVersion: 1.2.post3\n"
        "Summary: a summary\n  that folds\nDescription-Content-Type: text/markdown\n\n"
        "# Some-Thing\n\nName: impostor\nVersion: 9.9\n",
    )
    assert _name_and_version(dist) == ("Some-Thing", "1.2.post3")
    assert (dist.metadata["Name"], dist.version) == ("Some-Thing", "1.2.post3")


def test_crlf_metadata_and_egg_info_pkg_info(tmp_path):
    crlf = _dist(tmp_path, "a-1.dist-info", "Name: A-Pkg\r\nVersion: 1.0\r\n\r\nbody\r\n")
    egg = _dist(tmp_path, "b.egg-info", "Name: b_pkg\nVersion: 0.1\n", filename="PKG-INFO")
    empty = _dist(tmp_path, "c.dist-info", "Version: 1\n")
    assert _name_and_version(crlf) == ("A-Pkg", "1.0")
    assert _name_and_version(egg) == ("b_pkg", "0.1")
    assert _name_and_version(empty) == (None, "1")


def test_the_inventory_is_what_importlib_metadata_says():
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            expected.setdefault(name, dist.version)
    assert installed_distributions() == dict(
        sorted(expected.items(), key=lambda kv: (kv[0].lower(), kv[0]))
    )


def test_reading_the_inventory_parses_no_description():
    """0.3 s of CPU less in every worker and waiting process: the e-mail parser (which the
    full ``dist.metadata`` runs over each long description) is never loaded."""
    code = (
        "import json, sys\n"
        "from jupyter_mlinfra.core.distributions import installed_distributions\n"
        "n = len(installed_distributions())\n"
        "print(json.dumps([n, 'email.feedparser' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, parsed = json.loads(out.stdout)
    assert count > 10 and not parsed
