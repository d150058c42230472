"""Scene bundles (``.mrb``): everything in one file that Slicer opens."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .app import current_scene


def save_scene_bundle(path: str | Path, scene=None) -> Path:
    """Write the whole scene, data included, to ``path`` (``.mrb``)."""
    path = Path(path)
    if path.suffix.lower() != ".mrb":
        raise InputError(f"A scene bundle needs the .mrb extension, got {path.name}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    scene = current_scene(scene)
    if not scene.WriteToMRB(str(path.resolve())) or not path.is_file():
        raise InputError(f"Could not write the scene bundle {path}; is the folder writable?")
    return path


def load_scene_bundle(path: str | Path, scene=None, clear: bool = True) -> None:
    """Read a bundle into ``scene`` (replacing its content unless ``clear`` is False)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such scene bundle: {path}")
    scene = current_scene(scene)
    if not scene.ReadFromMRB(str(path.resolve()), clear):
        raise InputError(f"Could not read the scene bundle {path}; is it a Slicer .mrb file?")
