"""The model registry: ``Resources/Models/Models.json`` (schema: ``Models.schema.json``).

Each entry names a TorchScript file with its version, sha256, input
conventions, labels, licence, training data and measured metrics, and the
file of reference inputs and outputs stored beside it (``reference``, see
``runtime/export.py``; optional for users' own models). Users can point
OrthoAI at a registry of their own (``ORTHOAI_MODEL_REGISTRY``) to run their
own weights; the same checksum rules apply to it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError

REGISTRY_ENV = "ORTHOAI_MODEL_REGISTRY"
REGISTRY_FILE = "Models.json"
SCHEMA_FILE = "Models.schema.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("id", "version", "task", "file", "sha256", "input", "labels", "licence",
             "training_data", "metrics", "intended_use")


def shipped_models_dir() -> Path:
    """``Resources/Models`` next to the library: installed in Slicer, or the source tree."""
    library = Path(__file__).resolve().parent.parent
    for candidate in (library.parent / "Resources" / "Models", library.parent.parent / "Resources" / "Models"):
        if (candidate / REGISTRY_FILE).is_file():
            return candidate
    return library.parent.parent / "Resources" / "Models"


def default_registry_path() -> Path:
    override = os.environ.get(REGISTRY_ENV)
    return Path(override).expanduser() if override else shipped_models_dir() / REGISTRY_FILE


def _plain_file_name(name: str) -> bool:
    return Path(name).name == name and name not in ("", ".", "..")


def _check_reference(reference: Any, where: str) -> None:
    """The ``reference`` field: inputs and outputs stored beside the model (``runtime/export.py``),
    replayed by the compatibility check in other torch versions."""
    if not isinstance(reference, dict):
        raise ModelError(f"{where} must be an object, got {type(reference).__name__}.")
    if not _plain_file_name(str(reference.get("file", ""))):
        raise ModelError(f"{where} file must be a plain file name, got '{reference.get('file')}'.")
    if not _SHA256.match(str(reference.get("sha256", ""))):
        raise ModelError(f"{where} sha256 must be 64 lowercase hex digits, got '{reference.get('sha256')}'.")
    for key in ("atol", "rtol"):
        value = reference.get(key, 0.0 if key == "rtol" else None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ModelError(f"{where} {key} must be a number of at least 0, got {value!r}.")


@dataclass(frozen=True)
class ModelEntry:
    id: str
    version: str
    task: str
    file: str
    sha256: str
    input: dict[str, Any]
    labels: dict[str, str]
    licence: str
    training_data: str
    metrics: dict[str, Any]
    intended_use: str
    url: str | None = None
    size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "registry") -> "ModelEntry":
        if not isinstance(data, dict):
            raise ModelError(f"{source}: a model entry must be an object, got {type(data).__name__}.")
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ModelError(f"{source}: model entry '{data.get('id', '?')}' lacks {', '.join(missing)}.")
        if not _SHA256.match(str(data["sha256"])):
            raise ModelError(f"{source}: model '{data['id']}' has sha256 '{data['sha256']}', not 64 lowercase hex digits.")
        file_name = str(data["file"])
        if not _plain_file_name(file_name):
            raise ModelError(f"{source}: model '{data['id']}' file must be a plain file name, got '{file_name}'.")
        if "reference" in data:
            _check_reference(data["reference"], f"{source}: model '{data['id']}' reference")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        values = {key: data[key] for key in known if key in data}
        values["labels"] = {str(k): str(v) for k, v in data["labels"].items()}
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    @property
    def reference(self) -> dict[str, Any] | None:
        """Reference inputs/outputs stored beside the model file (``file``, ``sha256``, ``atol``, ``rtol``)."""
        return self.extra.get("reference")

    def to_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "extra"}
        result = {k: v for k, v in result.items() if v is not None}
        result.update(self.extra)
        return result


class ModelRegistry:
    def __init__(self, entries: list[ModelEntry], path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            if entry.id in self._entries:
                raise ModelError(f"{path or 'registry'}: model id '{entry.id}' appears twice.")
            self._entries[entry.id] = entry

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ModelRegistry":
        path = Path(path) if path is not None else default_registry_path()
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(
                f"Model registry not found: {path}. Reinstall the extension, or set {REGISTRY_ENV} to your own Models.json."
            ) from None
        except json.JSONDecodeError as error:
            raise ModelError(f"Model registry {path} is not valid JSON: {error}") from None
        models = document.get("models") if isinstance(document, dict) else None
        if not isinstance(models, list):
            raise ModelError(f"Model registry {path} has no 'models' list.")
        return cls([ModelEntry.from_dict(m, str(path)) for m in models], path)

    @property
    def directory(self) -> Path | None:
        return self.path.parent if self.path else None

    def ids(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def get(self, model_id: str) -> ModelEntry:
        try:
            return self._entries[model_id]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise ModelError(f"Unknown model '{model_id}'. Models in {self.path or 'the registry'}: {known}.") from None


def write_registry_entry(path: str | Path, entry: dict[str, Any]) -> None:
    """Insert or replace one entry (by id) in a registry file, keeping the others."""
    path = Path(path)
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"models": []}
    ModelEntry.from_dict(entry, str(path))  # refuse to write an invalid entry
    models = [m for m in document.get("models", []) if m.get("id") != entry["id"]]
    models.append(entry)
    document["models"] = sorted(models, key=lambda m: m["id"])
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def next_version(registry: Path, model_id: str, sha256: str) -> str:
    """The entry's version: kept when the weights are the ones registered, the minor version raised when
    they were retrained (a result file names the version it came from), 1.0.0 for a new model."""
    entries = json.loads(registry.read_text(encoding="utf-8"))["models"] if registry.exists() else []
    current = next((e for e in entries if e.get("id") == model_id), None)
    if current is None:
        return "1.0.0"
    if current.get("sha256") == sha256:
        return current["version"]
    return raise_minor(current["version"])


def raise_minor(version: str) -> str:
    """The version of retrained weights: 2.0.0 -> 2.1.0."""
    major, minor, _ = (int(part) for part in version.split("."))
    return f"{major}.{minor + 1}.0"
