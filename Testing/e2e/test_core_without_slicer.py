"""The core and the command line install and run without ``slicer-core`` (the ``[slicer]`` extra
brings the bridge): here ``slicer`` and ``vtk`` are made unimportable in a fresh interpreter."""

import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

BLOCK = r"""
import importlib.abc, sys
class NoMRML(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("slicer", "vtk", "vtkmodules"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: no slicer-core here)")
        return None
sys.meta_path.insert(0, NoMRML())
"""


def run_without_mrml(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT)


def test_every_core_module_imports_without_mrml():
    library = REPO_ROOT / "OrthoAI" / "OrthoAILib"
    modules = []
    for path in sorted(library.rglob("*.py")):
        parts = list(path.relative_to(library.parent).with_suffix("").parts)
        if parts[1] in ("mrml", "apps"):
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    result = run_without_mrml("import importlib\nfor m in %r:\n    importlib.import_module(m)\nprint('ok')" % modules)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    from OrthoAILib.io.radiograph import write_radiograph_dicom
    from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

    film = make_pelvis_radiograph(1_000_301, operated="right", spacing_mm=0.25)
    return write_radiograph_dicom(tmp_path_factory.mktemp("film") / "film.dcm", film.image, 0.25, bits_stored=film.bit_depth)


def test_hip_command_runs_without_mrml(film, tmp_path):
    result = run_without_mrml(f"from OrthoAILib.apps.cli import main\nsys.exit(main(['hip', {str(film)!r}, "
                              f"'--out', {str(tmp_path / 'out')!r}, '--no-scene']))")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "film.measures.json").is_file() and (tmp_path / "out" / "hip_measures.csv").is_file()


def test_scene_outputs_without_mrml_are_refused_before_any_work(film, tmp_path):
    result = run_without_mrml(f"from OrthoAILib.apps.cli import main\nsys.exit(main(['hip', {str(film)!r}, "
                              f"'--out', {str(tmp_path / 'out')!r}]))")
    assert result.returncode == 2 and "orthoai[slicer]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
