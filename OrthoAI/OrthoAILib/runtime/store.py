"""Where model files come from, in order, each checked against its sha256:

1. an override folder the user names (``ORTHOAI_MODELS_DIR`` or ``override_dir``);
2. the folder of the registry file (models shipped with the extension);
3. the user cache (``ORTHOAI_CACHE_DIR``, default ``~/.cache/orthoai/models``),
   filled by downloads from the entry's ``url`` or by :meth:`ModelStore.import_file`.

The cache lives outside the install so that updating the extension keeps it,
and the user can open and clear it.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import ModelError
from .checksum import sha256_file
from .download import download_file
from .progress import CancelToken, ProgressCallback
from .registry import ModelEntry, ModelRegistry

CACHE_ENV = "ORTHOAI_CACHE_DIR"
OVERRIDE_ENV = "ORTHOAI_MODELS_DIR"


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "OrthoAI" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "OrthoAI" / "models"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orthoai" / "models"


@dataclass(frozen=True)
class ModelFileStatus:
    entry: ModelEntry
    path: Optional[Path]  # the verified file, when one is present
    state: str  # "ready", "missing", "downloadable", "checksum mismatch"


class ModelStore:
    def __init__(self, registry: Optional[ModelRegistry] = None, cache_dir: Optional[Path] = None,
                 override_dir: Optional[Path] = None) -> None:
        self.registry = registry or ModelRegistry.load()
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        env_override = os.environ.get(OVERRIDE_ENV)
        self.override_dir = Path(override_dir) if override_dir else (Path(env_override) if env_override else None)

    def cache_path(self, entry: ModelEntry) -> Path:
        return self.cache_dir / entry.id / entry.version / entry.file

    def _candidates(self, entry: ModelEntry) -> list[Path]:
        folders = [self.override_dir, self.registry.directory]
        return [folder / entry.file for folder in folders if folder] + [self.cache_path(entry)]

    def status(self, model_id: str) -> ModelFileStatus:
        entry = self.registry.get(model_id)
        mismatch = False
        for candidate in self._candidates(entry):
            if candidate.is_file():
                if sha256_file(candidate) == entry.sha256:
                    return ModelFileStatus(entry, candidate, "ready")
                mismatch = True
        if mismatch:
            return ModelFileStatus(entry, None, "checksum mismatch")
        return ModelFileStatus(entry, None, "downloadable" if entry.url else "missing")

    def locate(self, model_id: str, *, download: bool = True,
               progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> Path:
        """Path of a verified copy of the model file, downloading it into the cache if allowed."""
        entry = self.registry.get(model_id)
        wrong: list[tuple[Path, str]] = []
        for candidate in self._candidates(entry):
            if not candidate.is_file():
                continue
            actual = sha256_file(candidate)
            if actual == entry.sha256:
                return candidate
            wrong.append((candidate, actual))
        if entry.url and download:
            return download_file(entry.url, self.cache_path(entry), entry.sha256, progress=progress, cancel=cancel)
        if wrong:
            listing = "; ".join(f"{path} has sha256 {actual}" for path, actual in wrong)
            raise ModelError(
                f"Model '{entry.id}' {entry.version}: expected sha256 {entry.sha256}, but {listing}. The file is "
                "damaged or holds other weights. Re-import the right file, or describe your own weights in your "
                "own Models.json (ORTHOAI_MODEL_REGISTRY)."
            )
        searched = ", ".join(str(p) for p in self._candidates(entry))
        hint = "Downloads are off for this call." if entry.url else "The registry gives no URL to download it from."
        raise ModelError(
            f"Model file '{entry.file}' for '{entry.id}' was not found (looked in: {searched}). {hint} "
            f"Import a copy with `orthoai models import {entry.id} FILE`, or set {OVERRIDE_ENV} to a folder holding it."
        )

    def import_file(self, model_id: str, source: str | Path) -> Path:
        """Copy a model file obtained offline into the cache, after checking its sha256."""
        entry = self.registry.get(model_id)
        source = Path(source)
        if not source.is_file():
            raise ModelError(f"Cannot import {source}: no such file.")
        actual = sha256_file(source)
        if actual != entry.sha256:
            raise ModelError(
                f"Cannot import {source} as '{entry.id}' {entry.version}: its sha256 is {actual}, the registry "
                f"expects {entry.sha256}. Is it the right file and version?"
            )
        target = self.cache_path(entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".importing")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
        return target

    def clear_cache(self) -> int:
        """Delete the cached model files this registry knows, and unfinished downloads or imports;
        returns the bytes freed. Shipped files, and anything else in the folder, are untouched."""
        freed = 0
        for entry in self.registry.entries():
            folder = self.cache_dir / entry.id
            if not folder.is_dir():
                continue
            leftovers = [p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".part", ".importing"))]
            for path in [self.cache_path(entry), *leftovers]:
                if path.is_file():
                    freed += path.stat().st_size
                    path.unlink()
            for directory in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True) + [folder]:
                if not any(directory.iterdir()):
                    directory.rmdir()
        return freed
