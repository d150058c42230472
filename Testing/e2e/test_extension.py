"""The Slicer extension as Slicer builds it, and the layer rule, checked from the files.

The Slicer application cannot run here; these checks catch what would break
its build or its self-tests: a library file missing from CMake, a widget the
code uses but the .ui lacks, a third-party import at a module file's top level.
"""

import ast
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from ..conftest import REPO_ROOT

MODULES = ("OrthoAI", "KneeCartilage", "HipTHA")  # one folder (and add_subdirectory) each
# Further modules built from the OrthoAI folder (the top level stays as it is), with their own
# slicerMacroBuildScriptedModule in OrthoAI/CMakeLists.txt.
BUILT_FROM_ORTHOAI = ("FetalUltrasound", "Endoscopy")
MODULE_FOLDERS = {**{m: m for m in MODULES}, **{m: "OrthoAI" for m in BUILT_FROM_ORTHOAI}}
LIBRARY = REPO_ROOT / "OrthoAI" / "OrthoAILib"
# Standard library, Slicer, and the extension's own module-side helpers: no third-party package.
MODULE_FILE_TOP_LEVEL_IMPORTS = {"logging", "os", "sys", "typing", "qt", "ctk", "vtk", "slicer", "OrthoAIModuleSupport"}


def cmake_list(text: str, variable: str) -> list[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, variable
    return match.group(1).split()


def test_top_level_layout():
    for name in ("CMakeLists.txt", "README.md", "pyproject.toml", "Makefile", "LICENSE", ".gitignore",
                 ".ci/run", "OrthoAI.json", "Resources/Models/Models.json", "Testing", *MODULES):
        assert (REPO_ROOT / name).exists(), name


def test_extension_cmake_and_catalog_entry_agree():
    text = (REPO_ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    depends = re.search(r"set\(EXTENSION_DEPENDS ([^)]*)\)", text).group(1).split("#")[0].split()
    catalog = json.loads((REPO_ROOT / "OrthoAI.json").read_text(encoding="utf-8"))
    assert depends == catalog["build_dependencies"] == ["PyTorch"]
    assert [m for m in MODULES if f"add_subdirectory({m})" in text] == list(MODULES)
    assert "find_package(Slicer REQUIRED)" in text and "Slicer_EXTENSION_CPACK" in text
    assert catalog["category"] in text and catalog["scm_url"].startswith("https://")


@pytest.mark.parametrize("module", MODULES)
def test_module_cmake_lists_existing_files_and_registers_tests(module):
    folder = REPO_ROOT / module
    text = (folder / "CMakeLists.txt").read_text(encoding="utf-8")
    assert f"set(MODULE_NAME {module})" in text
    assert "WITH_GENERIC_TESTS" in text and "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text
    for variable in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        for entry in cmake_list(text, variable):
            assert (folder / entry.replace("${MODULE_NAME}", module)).is_file(), entry


def expand_cmake(text: str) -> str:
    """``text`` with the ``${VARIABLE}`` of its ``set(...)`` calls replaced by their values."""
    variables = {name: " ".join(value.split()) for name, value in re.findall(r"set\((\w+)\s+([^)]*)\)", text)}
    for _ in range(3):  # lists of files named with ${MODULE_NAME}
        text = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), text)
    return text


def scripted_module_blocks(text: str) -> dict[str, str]:
    """NAME -> the arguments of each slicerMacroBuildScriptedModule call, variables expanded."""
    calls = re.findall(r"slicerMacroBuildScriptedModule\((.*?)\)", expand_cmake(text), re.S)
    return {re.search(r"NAME\s+(\S+)", arguments).group(1): arguments for arguments in calls}


@pytest.mark.parametrize("module", BUILT_FROM_ORTHOAI)
def test_modules_built_from_orthoai_have_their_own_build_and_test(module):
    text = (REPO_ROOT / "OrthoAI" / "CMakeLists.txt").read_text(encoding="utf-8")
    blocks = scripted_module_blocks(text)
    assert set(blocks) == {"OrthoAI", *BUILT_FROM_ORTHOAI}, blocks.keys()
    arguments = blocks[module]
    assert "WITH_GENERIC_TESTS" in arguments
    scripts = arguments.split("SCRIPTS", 1)[1].split("RESOURCES", 1)[0].split()
    resources = arguments.split("RESOURCES", 1)[1].split("WITH_GENERIC_TESTS", 1)[0].split()
    assert scripts == [f"{module}.py"]  # the library ships once, with the OrthoAI module
    assert f"Resources/UI/{module}.ui" in resources
    for entry in scripts + resources:
        assert (REPO_ROOT / "OrthoAI" / entry).is_file(), entry
    assert f"slicer_add_python_unittest(SCRIPT {module}.py)" in expand_cmake(text)


def test_orthoai_cmake_ships_the_whole_library_and_models():
    text = (REPO_ROOT / "OrthoAI" / "CMakeLists.txt").read_text(encoding="utf-8")
    listed = set(cmake_list(text, "MODULE_PYTHON_SCRIPTS"))
    for package in ("OrthoAILib", "OrthoAIModuleSupport"):
        for path in (REPO_ROOT / "OrthoAI" / package).rglob("*.py"):
            relative = path.relative_to(REPO_ROOT / "OrthoAI")
            if "training" in relative.parts:  # training stays in the source tree, never in a Slicer install
                assert str(relative) not in listed, relative
            else:
                assert str(relative) in listed, relative
    shipped = {p.name for p in (REPO_ROOT / "Resources" / "Models").iterdir() if p.suffix in (".json", ".pt")}
    installed = {Path(entry).name for entry in cmake_list(text, "ORTHOAI_MODEL_FILES")}
    assert installed == shipped
    assert "Resources/requirements.txt" in cmake_list(text, "MODULE_PYTHON_RESOURCES")


def _module_file(module: str) -> Path:
    return REPO_ROOT / MODULE_FOLDERS[module] / f"{module}.py"


def _module_tree(module: str) -> ast.Module:
    return ast.parse(_module_file(module).read_text(encoding="utf-8"))


@pytest.mark.parametrize("module", MODULE_FOLDERS)
def test_module_file_follows_slicer_conventions(module):
    tree = _module_tree(module)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for suffix in ("", "Widget", "Logic", "Test"):
        assert f"{module}{suffix}" in classes, f"{module}{suffix}"
    wrapped = [c for c in classes.values() if any(getattr(d, "id", "") == "parameterNodeWrapper" for d in c.decorator_list)]
    assert len(wrapped) == 1
    source = _module_file(module).read_text(encoding="utf-8")
    assert "tryWithErrorDisplay" in source and "def runTest" in source
    for node in ast.walk(ast.Module(body=[n for n in tree.body if not isinstance(n, (ast.ClassDef, ast.FunctionDef))], type_ignores=[])):
        # torch, MONAI, numpy... only inside functions
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                assert name.split(".")[0] in MODULE_FILE_TOP_LEVEL_IMPORTS, f"{module}.py imports {name} at file scope"


@pytest.mark.parametrize("module", MODULE_FOLDERS)
def test_ui_has_every_widget_the_code_uses_and_binds_parameters(module):
    ui = ElementTree.parse(REPO_ROOT / MODULE_FOLDERS[module] / "Resources" / "UI" / f"{module}.ui")
    widgets = {w.get("name") for w in ui.iter("widget")}
    source = _module_file(module).read_text(encoding="utf-8")
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    assert used <= widgets, used - widgets
    tree = _module_tree(module)
    parameter_class = next(c for c in tree.body if isinstance(c, ast.ClassDef) and c.name.endswith("ParameterNode"))
    fields = {n.target.id for n in parameter_class.body if isinstance(n, ast.AnnAssign)}
    bound = {p.find("string").text for p in ui.iter("property") if p.get("name") == "SlicerParameterName"}
    assert bound <= fields and bound, (bound, fields)


def test_requirements_never_replace_what_slicer_ships():
    lines = [l.split("#")[0].strip() for l in (REPO_ROOT / "OrthoAI" / "Resources" / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    names = {re.split(r"[<>=!~ ]", l)[0].lower() for l in lines if l}
    assert names and not names & {"numpy", "simpleitk", "torch", "scipy", "requests"}


GUI_ONLY = ("qt", "ctk", "slicer.ScriptedLoadableModule", "slicer.parameterNodeWrapper", "slicer.i18n")
MRML_TOOLKITS = ("slicer", "vtk", "vtkmodules")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIBRARY.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Every module a file imports, relative imports resolved to absolute names
    (``from .x import y`` also counts ``.x.y``, which may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "OrthoAILib":
        return "external"
    return {"mrml": "bridge", "apps": "apps"}.get(parts[1] if len(parts) > 1 else "", "core")


def layer_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """The layer rule: core imports neither the bridge, the apps, nor MRML toolkits; the bridge
    never imports the apps; nothing in the library imports the GUI."""
    layer, problems = layer_of(module), []
    for name in imported_modules(source, module, is_package):
        top = name.split(".")[0]
        if any(name == gui or name.startswith(gui + ".") for gui in GUI_ONLY):
            problems.append(f"{module} imports GUI-only {name}")
        target = layer_of(name)
        if layer == "core" and (target in ("bridge", "apps") or top in MRML_TOOLKITS):
            problems.append(f"core {module} imports {name}")
        if layer == "bridge" and target == "apps":
            problems.append(f"bridge {module} imports {name}")
    return problems


def test_layers_hold():
    problems = []
    for path in LIBRARY.rglob("*.py"):
        problems += layer_violations(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module, source, broken", [
    ("OrthoAILib.pipelines.hip.pipeline", "from ...mrml import volumes", True),
    ("OrthoAILib.pipelines.hip.pipeline", "from ... import mrml", True),
    ("OrthoAILib.io.radiograph", "from ..apps.hip import HipJob", True),
    ("OrthoAILib.io.radiograph", "def f():\n    import vtk", True),
    ("OrthoAILib.mrml.hip.scene", "from ...apps import batch", True),
    ("OrthoAILib.mrml.hip.scene", "from ...pipelines.hip.pipeline import HipCaseResult", False),
    ("OrthoAILib.apps.hip", "from ..mrml.hip.scene import add_hip_results", False),
    ("OrthoAILib.apps.hip", "import qt", True),
    ("OrthoAILib.pipelines.hip.pipeline", "from ..base import STATUS_OK", False),
])
def test_layer_rule_sees_relative_imports(module, source, broken):
    assert bool(layer_violations(source, module)) == broken


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make demo" in readme
    assert (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1] == "make test"
