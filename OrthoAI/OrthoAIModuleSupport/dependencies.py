"""Install what the modules need inside Slicer, without replacing what Slicer ships.

* torch comes from the PyTorch extension (``PyTorchUtils``), which picks the
  build that fits the machine's GPU;
* everything else comes from ``Resources/requirements.txt`` through
  ``slicer.packaging.pip_ensure``, with a constraints file that pins the numpy,
  SimpleITK and torch already installed, so pip can never replace them.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from pathlib import Path

import slicer

# One requirements file for the whole extension: installed scripted modules
# share one Resources folder, so a second file of the same name would clash.
REQUIREMENTS = Path(__file__).resolve().parent.parent / "Resources" / "requirements.txt"
NEVER_REPLACE = ("numpy", "SimpleITK", "torch", "requests")


def _constraints_file() -> str:
    lines = []
    for package in NEVER_REPLACE:
        try:
            lines.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    handle, path = tempfile.mkstemp(prefix="orthoai-constraints-", suffix=".txt")
    with os.fdopen(handle, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    return path


def ensure_torch() -> None:
    """torch through the PyTorch extension; raises with instructions when it cannot."""
    try:
        import PyTorchUtils
    except ModuleNotFoundError:
        raise RuntimeError(
            "OrthoAI needs the PyTorch extension. Install 'PyTorch' from the Extensions Manager, restart Slicer, "
            "then try again."
        ) from None
    torch_logic = PyTorchUtils.PyTorchUtilsLogic()
    if not torch_logic.torchInstalled():
        if torch_logic.installTorch(askConfirmation=True) is None:
            raise RuntimeError("PyTorch is required and was not installed. Install it from the PyTorch module.")


def _packaging_module():
    """Slicer's package helpers: ``slicer.packaging`` or, in some releases, ``slicer.pydeps``."""
    import importlib

    for name in ("slicer.packaging", "slicer.pydeps"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "pip_ensure") and hasattr(module, "load_requirements"):
            return module
    return None


def ensure_requirements(requester: str) -> None:
    """The packages of ``Resources/requirements.txt`` (asks the user before installing)."""
    constraints = _constraints_file()
    try:
        packaging = _packaging_module()
        if packaging is not None:
            requirements = packaging.load_requirements(REQUIREMENTS)
            packaging.pip_ensure(requirements, constraints=constraints, requester=requester)
            return
        missing = _missing_requirements()  # Slicer releases without pip_ensure
        if not missing:
            return
        if not slicer.util.confirmOkCancelDisplay(
                f"{requester} needs these Python packages: {', '.join(missing)}. Install them now?"):
            raise RuntimeError(f"{requester} cannot run without: {', '.join(missing)}.")
        slicer.util.pip_install(["-r", str(REQUIREMENTS), "-c", constraints])
    finally:
        os.unlink(constraints)


def _missing_requirements() -> list[str]:
    from packaging.requirements import Requirement

    missing = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        try:
            if importlib.metadata.version(requirement.name) not in requirement.specifier:
                missing.append(line)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
    return missing


def ensure_dependencies(requester: str, need_torch: bool) -> None:
    if need_torch:
        ensure_torch()
    ensure_requirements(requester)
