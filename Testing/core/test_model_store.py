"""Model files: shipped, overridden, imported, downloaded (real HTTP on 127.0.0.1)."""

import hashlib
import shutil

import pytest

from OrthoAILib.errors import Cancelled, DownloadError, ModelError
from OrthoAILib.runtime.download import download_file
from OrthoAILib.runtime.progress import CancelToken
from OrthoAILib.runtime.registry import ModelEntry, ModelRegistry
from OrthoAILib.runtime.store import ModelStore

from ..conftest import REPO_ROOT
from ..model_server import ModelServer

SHIPPED = REPO_ROOT / "Resources" / "Models"
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, so a download takes many chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def remote_registry(tmp_path, url: str | None, sha: str = PAYLOAD_SHA) -> ModelRegistry:
    entry = ModelEntry.from_dict({
        "id": "remote-model", "version": "1.2.3", "task": "segmentation", "file": "remote.pt", "sha256": sha,
        "input": {"dims": 3, "channels": 1}, "labels": {"0": "background"}, "licence": "Apache-2.0",
        "training_data": "bytes for download tests", "metrics": {}, "intended_use": "Tests. Not for clinical use.",
        **({"url": url} if url else {}),
    })
    folder = tmp_path / "registry"
    folder.mkdir(exist_ok=True)
    return ModelRegistry([entry], folder / "Models.json")


@pytest.fixture
def server():
    with ModelServer() as running:
        running.files["/models/remote.pt"] = PAYLOAD
        yield running


def test_shipped_model_is_found_and_verified(tmp_path):
    store = ModelStore(ModelRegistry.load(SHIPPED / "Models.json"), cache_dir=tmp_path / "cache")
    assert store.locate("phantom-bone-seg-tiny") == SHIPPED / "phantom_bone_seg_tiny.pt"
    assert store.status("phantom-bone-seg-tiny").state == "ready"


def test_override_folder_wins_and_is_checked(tmp_path):
    registry = ModelRegistry.load(SHIPPED / "Models.json")
    override = tmp_path / "override"
    override.mkdir()
    shutil.copy(SHIPPED / "phantom_bone_seg_tiny.pt", override)
    store = ModelStore(registry, cache_dir=tmp_path / "cache", override_dir=override)
    assert store.locate("phantom-bone-seg-tiny") == override / "phantom_bone_seg_tiny.pt"


def test_wrong_file_everywhere_names_the_checksums(tmp_path):
    registry = remote_registry(tmp_path, url=None)
    (registry.directory / "remote.pt").write_bytes(b"other weights")
    store = ModelStore(registry, cache_dir=tmp_path / "cache")
    assert store.status("remote-model").state == "checksum mismatch"
    with pytest.raises(ModelError, match=f"expected sha256 {PAYLOAD_SHA}.*damaged or holds other weights"):
        store.locate("remote-model")


def test_missing_file_without_url_says_how_to_import(tmp_path):
    store = ModelStore(remote_registry(tmp_path, url=None), cache_dir=tmp_path / "cache")
    assert store.status("remote-model").state == "missing"
    with pytest.raises(ModelError, match="orthoai models import remote-model FILE"):
        store.locate("remote-model")


def test_download_into_cache_once(tmp_path, server):
    store = ModelStore(remote_registry(tmp_path, server.url("/models/remote.pt")), cache_dir=tmp_path / "cache")
    assert store.status("remote-model").state == "downloadable"
    fractions = []
    path = store.locate("remote-model", progress=lambda f, m: fractions.append(f))
    assert path == tmp_path / "cache" / "remote-model" / "1.2.3" / "remote.pt"
    assert path.read_bytes() == PAYLOAD
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert store.locate("remote-model") == path
    assert len(server.requests) == 1  # the second call used the verified cache


def test_resume_sends_range_and_appends(tmp_path, server):
    target = tmp_path / "remote.pt"
    target.with_name("remote.pt.part").write_bytes(PAYLOAD[:300_000])
    download_file(server.url("/models/remote.pt"), target, PAYLOAD_SHA)
    assert target.read_bytes() == PAYLOAD
    assert server.requests[-1]["range"] == "bytes=300000-"
    assert not target.with_name("remote.pt.part").exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path, server):
    server.mode = "ignore-range"
    target = tmp_path / "remote.pt"
    target.with_name("remote.pt.part").write_bytes(b"garbage that must not stay")
    download_file(server.url("/models/remote.pt"), target, PAYLOAD_SHA)
    assert target.read_bytes() == PAYLOAD


def test_interrupted_download_resumes_on_the_next_call(tmp_path, server):
    server.mode = "cut-once"
    target = tmp_path / "remote.pt"
    with pytest.raises(DownloadError, match="interrupted.*resume"):
        download_file(server.url("/models/remote.pt"), target, PAYLOAD_SHA)
    partial = target.with_name("remote.pt.part")
    assert 0 < partial.stat().st_size < len(PAYLOAD) and not target.exists()
    download_file(server.url("/models/remote.pt"), target, PAYLOAD_SHA)
    assert target.read_bytes() == PAYLOAD
    assert server.requests[-1]["range"] == f"bytes={len(PAYLOAD) // 2}-"


def test_checksum_mismatch_discards_the_download(tmp_path, server):
    target = tmp_path / "remote.pt"
    with pytest.raises(DownloadError, match="sha256 is .* not 0{64}"):
        download_file(server.url("/models/remote.pt"), target, "0" * 64)
    assert not target.exists() and not target.with_name("remote.pt.part").exists()


def test_http_error_is_reported(tmp_path, server):
    server.mode = "missing"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("/models/remote.pt"), tmp_path / "remote.pt", PAYLOAD_SHA)


def test_cancel_stops_and_keeps_the_partial_file(tmp_path, server):
    cancel = CancelToken()
    target = tmp_path / "remote.pt"

    def progress(fraction, message):
        if fraction > 0.2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        download_file(server.url("/models/remote.pt"), target, PAYLOAD_SHA, progress=progress, cancel=cancel)
    assert not target.exists() and target.with_name("remote.pt.part").stat().st_size > 0


def test_download_off_means_no_request(tmp_path, server):
    store = ModelStore(remote_registry(tmp_path, server.url("/models/remote.pt")), cache_dir=tmp_path / "cache")
    with pytest.raises(ModelError, match="Downloads are off"):
        store.locate("remote-model", download=False)
    assert server.requests == []


def test_import_checks_sha_and_clear_cache_frees_it(tmp_path):
    store = ModelStore(remote_registry(tmp_path, url=None), cache_dir=tmp_path / "cache")
    wrong = tmp_path / "wrong.pt"
    wrong.write_bytes(b"not it")
    with pytest.raises(ModelError, match="Cannot import .* its sha256 is"):
        store.import_file("remote-model", wrong)
    right = tmp_path / "right.pt"
    right.write_bytes(PAYLOAD)
    imported = store.import_file("remote-model", right)
    assert store.locate("remote-model") == imported and right.exists()
    assert store.clear_cache() == len(PAYLOAD)
    assert not imported.exists() and store.status("remote-model").state == "missing"


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    from OrthoAILib.runtime.store import default_cache_dir

    monkeypatch.setenv("ORTHOAI_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"


def test_clear_cache_leaves_files_it_does_not_own(tmp_path):
    store = ModelStore(remote_registry(tmp_path, url=None), cache_dir=tmp_path / "shared-cache")
    right = tmp_path / "right.pt"
    right.write_bytes(PAYLOAD)
    store.import_file("remote-model", right)
    (tmp_path / "shared-cache" / "remote-model" / "1.2.3" / "other.pt.part").write_bytes(b"12345")
    unrelated = tmp_path / "shared-cache" / "notes.txt"
    unrelated.write_text("someone else's file")
    assert store.clear_cache() == len(PAYLOAD) + 5
    assert unrelated.exists() and not (tmp_path / "shared-cache" / "remote-model").exists()
