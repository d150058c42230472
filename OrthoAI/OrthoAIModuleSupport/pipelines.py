"""A module logic's pipeline: its dependencies checked first (torch, and the requirements, asking the
user before installing), then the app's one-per-process pipeline (models loaded once, checksums
verified). Imports stay inside: module files must load before torch is there."""

from __future__ import annotations

import importlib


def load_pipeline(requester: str, app: str):
    """``OrthoAILib.apps.<app>.shared_pipeline()`` once ``requester``'s dependencies are in place."""
    from OrthoAIModuleSupport.dependencies import ensure_dependencies

    ensure_dependencies(requester, need_torch=True)
    return importlib.import_module(f"OrthoAILib.apps.{app}").shared_pipeline()
