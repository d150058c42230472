import json

import jsonschema
import pytest

from OrthoAILib.errors import ModelError
from OrthoAILib.runtime.checksum import sha256_file
from OrthoAILib.runtime.registry import ModelEntry, ModelRegistry, default_registry_path, write_registry_entry

from ..conftest import REPO_ROOT

MODELS = REPO_ROOT / "Resources" / "Models"


def shipped_document() -> dict:
    return json.loads((MODELS / "Models.json").read_text(encoding="utf-8"))


def test_shipped_registry_matches_its_schema():
    schema = json.loads((MODELS / "Models.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(shipped_document(), schema)


def test_every_shipped_model_is_present_small_and_verified():
    registry = ModelRegistry.load(MODELS / "Models.json")
    assert registry.ids(), "the registry ships at least the runtime's test model"
    for entry in registry.entries():
        path = MODELS / entry.file
        assert path.is_file(), entry.file
        assert sha256_file(path) == entry.sha256
        assert path.stat().st_size == entry.size_bytes < 20 * 1024 * 1024
        assert "not for clinical use" in entry.intended_use.lower()
        assert entry.metrics and entry.training_data


def test_default_registry_is_the_shipped_one_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("ORTHOAI_MODEL_REGISTRY", raising=False)
    assert default_registry_path().resolve() == (MODELS / "Models.json").resolve()
    own = tmp_path / "Mine.json"
    monkeypatch.setenv("ORTHOAI_MODEL_REGISTRY", str(own))
    assert default_registry_path() == own


def _entry(**changes) -> dict:
    entry = dict(next(m for m in shipped_document()["models"] if m["id"] == "phantom-bone-seg-tiny"))
    entry.update(changes)
    return entry


@pytest.mark.parametrize("changes, message", [
    ({"sha256": "abc"}, "not 64 lowercase hex"),
    ({"file": "../escape.pt"}, "plain file name"),
    ({"licence": None}, None),
])
def test_invalid_entries_are_refused(changes, message):
    entry = _entry(**changes)
    if changes.get("licence", 1) is None:
        del entry["licence"]
        message = "lacks licence"
    with pytest.raises(ModelError, match=message):
        ModelEntry.from_dict(entry)


def test_unknown_id_lists_known_ones():
    registry = ModelRegistry([ModelEntry.from_dict(_entry())])
    with pytest.raises(ModelError, match="Unknown model 'nope'.*phantom-bone-seg-tiny"):
        registry.get("nope")


def test_duplicate_ids_are_refused():
    with pytest.raises(ModelError, match="appears twice"):
        ModelRegistry([ModelEntry.from_dict(_entry()), ModelEntry.from_dict(_entry())])


def test_missing_or_broken_registry_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        ModelRegistry.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelRegistry.load(broken)


def test_write_registry_entry_replaces_by_id(tmp_path):
    path = tmp_path / "Models.json"
    write_registry_entry(path, _entry(version="1.0.0"))
    write_registry_entry(path, _entry(id="other-model"))
    write_registry_entry(path, _entry(version="2.0.0"))
    registry = ModelRegistry.load(path)
    assert sorted(registry.ids()) == ["other-model", "phantom-bone-seg-tiny"]
    assert registry.get("phantom-bone-seg-tiny").version == "2.0.0"
    assert ModelEntry.from_dict(registry.get("other-model").to_dict()) == registry.get("other-model")
