"""Install what the modules need inside Slicer, without replacing what Slicer ships.

* torch: used as it is when it can already be imported (installed by the PyTorch
  extension or by hand); otherwise the PyTorch extension (``PyTorchUtils``)
  installs the build that fits the machine's GPU.
* everything else comes from ``Resources/requirements.txt``, with a constraints
  file that pins the numpy, SimpleITK, torch and requests already installed, so
  pip can never replace them:

  - Slicer releases whose ``slicer.packaging`` has ``pip_ensure`` (it needs
    Python 3.11: it imports ``tomllib``; Slicer 5.8 ships Python 3.9) get
    ``pip_ensure(load_requirements(file), constraints=..., requester=...)``;
  - older releases (5.8 and the ones before ``pip_ensure``) get the same
    decision made here: find what is missing from the installed metadata, ask,
    then ``slicer.util.pip_install(["-r", file, "-c", constraints])`` (a list
    argument is accepted there since 5.0).

The decisions take Slicer's pieces as arguments (``install_requirements``,
``provide_torch``), so they are tested outside the application with real
requirement files and real package metadata; ``ensure_*`` wire them to Slicer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

# One requirements file for the whole extension: installed scripted modules
# share one Resources folder, so a second file of the same name would clash.
REQUIREMENTS = Path(__file__).resolve().parent.parent / "Resources" / "requirements.txt"
NEVER_REPLACE = ("numpy", "SimpleITK", "torch", "requests")
# Module names under which Slicer releases ship pip_ensure (checked by attribute, not by version number,
# because a development build may have either).
PACKAGING_MODULES = ("slicer.packaging", "slicer.pydeps")


def read_requirements(path: Path = REQUIREMENTS) -> list[str]:
    """Requirement lines of a requirements file (comments, blank lines and pip options left out),
    the same lines Slicer's ``load_requirements`` keeps."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def missing_requirements(requirements: Sequence[str],
                         version: Callable[[str], str] = importlib.metadata.version) -> list[str]:
    """The requirements whose package is not installed, or installed at a version outside the specifier."""
    from packaging.requirements import Requirement  # Slicer ships packaging (it needs it for pip)

    missing = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for this platform
        try:
            installed = version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(line)
    return missing


def constraint_lines(packages: Sequence[str] = NEVER_REPLACE,
                     version: Callable[[str], str] = importlib.metadata.version) -> list[str]:
    """``name==version`` for each of ``packages`` that is installed: pip may not change them."""
    lines = []
    for package in packages:
        try:
            lines.append(f"{package}=={version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return lines


def find_packaging_module(import_module: Callable = importlib.import_module):
    """Slicer's module that has ``pip_ensure`` and ``load_requirements``, or None in releases without it."""
    for name in PACKAGING_MODULES:
        try:
            module = import_module(name)
        except ImportError:
            continue
        if hasattr(module, "pip_ensure") and hasattr(module, "load_requirements"):
            return module
    return None


def install_requirements(requester: str, requirements: Path, packaging, confirm: Callable[[str], bool],
                         pip_install: Callable[[list], object]) -> list[str]:
    """Make the packages of ``requirements`` importable; returns the requirement lines that were missing.

    ``packaging``: Slicer's module with ``pip_ensure``/``load_requirements``, or None (older releases);
    ``confirm(text) -> bool`` asks the user; ``pip_install(args)`` is ``slicer.util.pip_install``.
    Raises RuntimeError when the user declines.
    """
    missing = missing_requirements(read_requirements(requirements))
    if not missing:
        return []  # nothing to do: no constraints file, no prompt, no pip process
    handle, constraints = tempfile.mkstemp(prefix="orthoai-constraints-", suffix=".txt")
    with os.fdopen(handle, "w") as stream:
        stream.write("\n".join(constraint_lines()) + "\n")
    try:
        if packaging is not None:
            # pip_ensure checks, asks and installs itself (and skips installing in testing mode).
            packaging.pip_ensure(packaging.load_requirements(requirements), constraints=constraints,
                                 requester=requester)
            return missing
        if not confirm(f"{requester} needs these Python packages: {', '.join(missing)}. Install them now?"):
            raise RuntimeError(f"{requester} cannot run without: {', '.join(missing)}.")
        pip_install(["-r", str(requirements), "-c", constraints])
        return missing
    finally:
        os.unlink(constraints)


def torch_importable() -> bool:
    """Whether ``import torch`` works (it is needed right after, so the import is not wasted)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def provide_torch(torch_found: bool, load_pytorch_utils: Callable[[], object]) -> str:
    """Where torch comes from: ``"installed"`` when it can already be imported (the PyTorch extension is then
    not needed), ``"PyTorch extension"`` when ``PyTorchUtils`` installed it. Raises RuntimeError with what to do.

    ``load_pytorch_utils()`` returns the ``PyTorchUtils`` module, or raises ModuleNotFoundError when the
    extension is not installed.
    """
    if torch_found:
        return "installed"
    try:
        pytorch_utils = load_pytorch_utils()
    except ModuleNotFoundError:
        raise RuntimeError(
            "OrthoAI needs PyTorch. Install the 'PyTorch' extension from the Extensions Manager, restart Slicer, "
            "then try again."
        ) from None
    logic = pytorch_utils.PyTorchUtilsLogic()
    # installTorch(askConfirmation, forceComputationBackend, torchVersionRequirement) returns the torch module,
    # or None when the user declined (PyTorchUtils.py in the SlicerPyTorch extension).
    if not logic.torchInstalled() and logic.installTorch(askConfirmation=True) is None:
        raise RuntimeError("PyTorch is required and was not installed. Install it from the PyTorch Utils module.")
    return "PyTorch extension"


def ensure_torch() -> str:
    """torch inside Slicer (see ``provide_torch``)."""
    return provide_torch(torch_importable(), lambda: importlib.import_module("PyTorchUtils"))


def ensure_requirements(requester: str) -> list[str]:
    """The packages of ``Resources/requirements.txt`` inside Slicer (asks the user before installing)."""
    import slicer

    return install_requirements(requester, REQUIREMENTS, find_packaging_module(),
                                slicer.util.confirmOkCancelDisplay, slicer.util.pip_install)


def ensure_dependencies(requester: str, need_torch: bool) -> None:
    if need_torch:
        ensure_torch()
    ensure_requirements(requester)
