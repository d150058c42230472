"""A headless MRML application: what Slicer sets up at start-up, without Qt.

Outside the Slicer application, :class:`HeadlessSlicer` creates the scene,
the application logic with its default colour tables, the module logics the
bridge uses (registered under their Slicer module names, so displayable
managers find them), and the remote-IO cache directory that scene bundles
are unpacked into. It also sets ``slicer.mrmlScene`` and
``slicer.modules.<name>.logic()`` the way the application does, so that
``slicer.util`` helpers and the bridge work the same in both worlds.

Inside the Slicer application nothing here is needed: use
:func:`current_scene` and :func:`module_logic`.
"""

from __future__ import annotations

import tempfile
import types
from pathlib import Path
from typing import Optional

import slicer

# Slicer module name -> logic class name in the slicer namespace.
MODULE_LOGICS = {
    "Volumes": "vtkSlicerVolumesLogic",
    "Markups": "vtkSlicerMarkupsLogic",
    "Segmentations": "vtkSlicerSegmentationsModuleLogic",
    "SubjectHierarchy": "vtkSlicerSubjectHierarchyModuleLogic",
    "Tables": "vtkSlicerTablesLogic",
    "Models": "vtkSlicerModelsLogic",
    "Transforms": "vtkSlicerTransformLogic",
    "Data": "vtkSlicerDataModuleLogic",
}


def in_slicer_application() -> bool:
    return hasattr(slicer, "app")


def current_scene(scene=None):
    """``scene`` if given, else the application's scene."""
    if scene is not None:
        return scene
    try:
        return slicer.mrmlScene
    except AttributeError:
        raise RuntimeError("No MRML scene: start one with OrthoAILib.mrml.app.HeadlessSlicer()") from None


def module_logic(name: str):
    """The logic of a Slicer module by name ("Markups", "Segmentations"...)."""
    return getattr(slicer.modules, name.lower()).logic()


class HeadlessSlicer:
    """Scene, application logic and module logics in plain Python (no Qt)."""

    def __init__(self, cache_dir: Optional[str | Path] = None, install_globals: bool = True) -> None:
        self._temporary = None
        self.views: dict = {}  # off-screen slice views for pictures (mrml.render), kept for reuse
        if cache_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="orthoai-mrml-")
            cache_dir = self._temporary.name
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

        self.scene = slicer.vtkMRMLScene()
        self.app_logic = slicer.vtkSlicerApplicationLogic()
        self.app_logic.SetMRMLScene(self.scene)
        # A home directory without colour files: the built-in tables are enough.
        self.app_logic.SetHomeDirectory(str(self.cache_dir))
        self.app_logic.SetShareDirectory("share")
        (self.cache_dir / "share" / "ColorFiles").mkdir(parents=True, exist_ok=True)
        # The colour logic needs the application logic before the scene, or
        # display nodes point at colour tables that do not exist.
        self.color_logic = slicer.vtkSlicerColorLogic()
        self.color_logic.SetMRMLApplicationLogic(self.app_logic)
        self.color_logic.SetMRMLScene(self.scene)
        self.app_logic.SetColorLogic(self.color_logic)

        # Without a cache directory, ReadFromMRB() unpacks bundles into "/".
        self.remote_io = slicer.vtkMRMLRemoteIOLogic()
        self.remote_io.SetMRMLScene(self.scene)
        remote_cache = self.cache_dir / "remote-io"
        remote_cache.mkdir(exist_ok=True)
        (remote_cache / ".slicer-cache").touch()  # marks the folder as the cache manager's own
        self.remote_io.GetCacheManager().SetRemoteCacheDirectory(str(remote_cache))
        self.remote_io.AddDataIOToScene()

        self.logics = {}
        for module_name, class_name in MODULE_LOGICS.items():
            logic = getattr(slicer, class_name)()
            logic.SetMRMLApplicationLogic(self.app_logic)
            logic.SetMRMLScene(self.scene)
            self.app_logic.SetModuleLogic(module_name, logic)
            self.logics[module_name] = logic
        self.logics["Colors"] = self.color_logic
        self.app_logic.SetModuleLogic("Colors", self.color_logic)

        if install_globals and not in_slicer_application():  # never replace the application's own scene
            self.install_globals()

    def install_globals(self) -> None:
        """Make ``slicer.mrmlScene`` and ``slicer.modules.<name>.logic()`` point here."""
        slicer.mrmlScene = self.scene
        modules = types.SimpleNamespace()
        for module_name, logic in self.logics.items():
            setattr(modules, module_name.lower(), types.SimpleNamespace(logic=(lambda l=logic: l), name=module_name))
        slicer.modules = modules

    def clear(self) -> None:
        """Remove every node a user or pipeline added; keep colour tables and other singletons."""
        self.scene.Clear(0)

    def close(self) -> None:
        for view in self.views.values():
            view.close()
        self.views.clear()
        self.clear()
        if self._temporary is not None:
            self._temporary.cleanup()

    def __enter__(self) -> "HeadlessSlicer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
