"""Artifact stores: the same contract on a local folder and on a real S3 endpoint over HTTP."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap

import boto3
import pytest

from jupyter_mlinfra.core.artifacts import LocalArtifactStore, open_artifact_store
from jupyter_mlinfra.core.artifacts.base import blob_path
from jupyter_mlinfra.core.artifacts.s3 import S3ArtifactStore
from jupyter_mlinfra.core.errors import IntegrityError, InvalidInput, NotFound


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    root, endpoint = request.getfixturevalue("s3_bucket")
    return open_artifact_store(root, endpoint)


def _corrupt(store, key: str) -> None:
    """Flip bytes of the blob behind ``key`` directly in the backend."""
    path = blob_path(store.stat(key).sha256)
    if isinstance(store, LocalArtifactStore):
        target = store.root / path
        data = bytearray(target.read_bytes())
        data[0] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        obj = store.client.get_object(Bucket=store.bucket, Key=store._key(path))["Body"].read()
        store.client.put_object(Bucket=store.bucket, Key=store._key(path), Body=b"X" + obj[1:])


def test_round_trip_stream_list_delete(store):
    data = os.urandom(300_000)
    info = store.put("models/m1/model.bin", data, metadata={"kind": "model"})
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.size == len(data)
    assert store.get("models/m1/model.bin") == data
    with store.open("models/m1/model.bin") as fh:
        assert fh.read(10) == data[:10]
        assert fh.read() == data[10:]
    store.put("models/m1/notes.txt", io.BytesIO(b"notes"))
    assert store.exists("models/m1/notes.txt")
    assert store.list("models/m1") == ["models/m1/model.bin", "models/m1/notes.txt"]
    assert store.stat("models/m1/model.bin").metadata == {"kind": "model"}
    store.delete("models/m1/notes.txt")
    assert not store.exists("models/m1/notes.txt")
    with pytest.raises(NotFound):
        store.get("models/m1/notes.txt")
    with pytest.raises(NotFound):
        store.delete("models/m1/notes.txt")


def test_identical_content_is_stored_once_and_gc_frees_orphans(store):
    store.put("a", b"same bytes")
    store.put("b", b"same bytes")
    blobs = list(store._list_objects("blobs/"))
    assert len(blobs) == 1
    store.put("a", b"new bytes")  # overwrite: 'a' now points at a new blob
    store.delete("b")
    # a young unreferenced blob may belong to a put in progress: kept by default
    assert store.gc() == 0
    assert len(list(store._list_objects("blobs/"))) == 2
    assert store.gc(min_age=0) == 1
    assert store.get("a") == b"new bytes"
    assert len(list(store._list_objects("blobs/"))) == 1


def test_corrupted_blob_raises_instead_of_returning_wrong_bytes(store):
    store.put("data/table.parquet", b"0123456789" * 1000)
    _corrupt(store, "data/table.parquet")
    with pytest.raises(IntegrityError, match="corrupted"):
        store.get("data/table.parquet")
    with pytest.raises(IntegrityError):
        with store.open("data/table.parquet") as fh:
            fh.read()


def test_verified_file_hands_out_checked_bytes_and_leaves_no_spool(store, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    data = os.urandom(200_000)
    store.put("m/params.joblib", data)
    with store.verified_file("m/params.joblib", dir=spool) as path:
        with open(path, "rb") as fh:
            assert fh.read() == data
    assert list(spool.iterdir()) == []
    with pytest.raises(IntegrityError, match="replaced"):
        with store.verified_file("m/params.joblib", expected_sha256="0" * 64, dir=spool):
            pass
    _corrupt(store, "m/params.joblib")
    with pytest.raises(IntegrityError, match="corrupted"):
        with store.verified_file("m/params.joblib", dir=spool):
            raise AssertionError("corrupted bytes were handed out")
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "sp ace", "x/./y"])
def test_bad_keys_are_refused(store, key):
    with pytest.raises(InvalidInput):
        store.put(key, b"x")


def test_large_object_goes_multipart_through_s3(s3_bucket):
    root, endpoint = s3_bucket
    store = open_artifact_store(root, endpoint)
    assert isinstance(store, S3ArtifactStore)
    data = os.urandom(40 * 1024 * 1024)
    info = store.put("big/blob.bin", io.BytesIO(data))
    head = boto3.client("s3", endpoint_url=endpoint).head_object(
        Bucket=store.bucket, Key=store._key(blob_path(info.sha256))
    )
    assert "-" in head["ETag"]  # a multipart upload's ETag is "<md5>-<parts>"
    assert store.get("big/blob.bin") == data


def test_crash_mid_write_leaves_no_visible_object(tmp_path):
    """A process killed while writing a large artifact leaves neither the key nor a partial
    blob visible; the next put of the same key works."""
    root = tmp_path / "artifacts"
    script = textwrap.dedent(f"""
        import os, signal
        from jupyter_mlinfra.core.artifacts import LocalArtifactStore
        import jupyter_mlinfra.core.artifacts.local as local
        real = local.shutil.copyfileobj
        def dying_copy(src, dst, length=0):
            dst.write(src.read(1024 * 1024)); dst.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        local.shutil.copyfileobj = dying_copy
        LocalArtifactStore({str(root)!r}).put("k", os.urandom(8 * 1024 * 1024))
    """)
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == -9
    store = LocalArtifactStore(root)
    assert not store.exists("k")
    assert store.list() == []
    assert list(store._list_objects("blobs/")) == []  # the partial temp file is not a blob
    store.put("k", b"after the crash")
    assert store.get("k") == b"after the crash"


@pytest.mark.parametrize("key", ["n" * 256, "a/" + "b" * 300, "/".join(["part"] * 200)])
def test_over_long_keys_are_invalid_input(store, key):
    for call in (lambda: store.put(key, b"x"), lambda: store.exists(key), lambda: store.stat(key)):
        with pytest.raises(InvalidInput, match="too long") as err:
            call()
        assert len(err.value.message) < 200  # the key is not echoed whole
    assert store.list() == []


def test_longest_keys_work(store):
    key = "/".join(["p" * 255, "q" * 255, "r" * 255])[:768]
    store.put(key, b"x")
    assert store.get(key) == b"x" and store.list() == [key]
