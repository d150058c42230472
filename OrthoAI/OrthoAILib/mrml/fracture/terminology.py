"""The bones' terminology context (``Resources/Terminology/OrthoAI-Bones.term.json``) loaded into
Slicer's terminologies logic.

A bone segment's ``TerminologyEntry`` names its bone as an anatomic region of the context "OrthoAI
bones" (``pipelines.fracture.bones``). Slicer 5.8 looks a region up in the loaded contexts and drops
it when the context is unknown, so the context is loaded before segments are written (and by the
OrthoAI module at start-up, for scenes opened later). Outside the application (the ``slicer-core``
wheel has no terminologies module) there is nothing to load into: the tags are written as they are.
"""

from __future__ import annotations

import logging
from pathlib import Path

import slicer

# Installed beside the library in Slicer (qt-scripted-modules/Resources), in OrthoAI/Resources in the source tree.
BONE_TERMINOLOGY_FILE = Path(__file__).resolve().parents[3] / "Resources" / "Terminology" / "OrthoAI-Bones.term.json"
_loaded: list[str] = []  # the context name, once loaded in this session


def terminologies_logic():
    """Slicer's terminologies module logic, or None where there is none (``slicer-core``)."""
    module = getattr(getattr(slicer, "modules", None), "terminologies", None)
    return module.logic() if module is not None else None


def load_bone_terminology(path: Path = BONE_TERMINOLOGY_FILE) -> str:
    """Load the bones' anatomic context once per session; returns its name, or "" where there is no
    terminologies module. ``LoadRegionContextFromFile`` in the releases that have it (it replaced
    ``LoadAnatomicContextFromFile``, which Slicer 5.6 and 5.8 have and later ones deprecate)."""
    if _loaded:
        return _loaded[0]
    logic = terminologies_logic()
    if logic is None:
        return ""
    load = getattr(logic, "LoadRegionContextFromFile", None) or logic.LoadAnatomicContextFromFile
    name = load(str(path))
    if not name:  # the segments keep their names and colours; Slicer shows no bone region for them
        logging.warning(f"Slicer could not load the bones' terminology context from {path}.")
        return ""
    _loaded.append(name)
    return name
