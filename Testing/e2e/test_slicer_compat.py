"""What the Slicer application does with the extension, checked here without the application.

Each test stands for a fact read in Slicer's (or CMake's, or CTK's) source and
for the code that relies on it: the build tree layout CMake produces, the
properties a .ui may set, Slicer's markups place mode, the self-test runner,
dependency installation in Slicer releases with and without ``pip_ensure``,
the busy state of a panel, and Python 3.9 (Slicer 5.8) syntax.
"""

from __future__ import annotations

import ast
import filecmp
import json
import os
import re
import shutil
import subprocess
import types
import unittest
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from ..conftest import REPO_ROOT

MODULES = ("OrthoAI", "KneeCartilage", "HipTHA")
SUPPORT = REPO_ROOT / "OrthoAI" / "OrthoAIModuleSupport"
MODELS = REPO_ROOT / "Resources" / "Models"
SCRIPTED_MODULES_DIR = "lib/Slicer-5.8/qt-scripted-modules"  # Slicer_QTSCRIPTEDMODULES_LIB_DIR of a 5.8 build


# -- CMake: the models land in a folder, each under its own name ----------------------------------------

def _models_block() -> str:
    text = (REPO_ROOT / "OrthoAI" / "CMakeLists.txt").read_text(encoding="utf-8")
    match = re.search(r"set\(ORTHOAI_MODEL_FILES.*?endforeach\(\)\n", text, re.S)
    assert match, "the block that copies the models into the build tree"
    return match.group(0)


def test_every_configure_file_names_its_output_file():
    """configure_file puts its input inside <output> only when <output> is an existing folder."""
    for text in (REPO_ROOT / m / "CMakeLists.txt" for m in MODULES):
        for call in re.findall(r"configure_file\(([^)]*)\)", text.read_text(encoding="utf-8")):
            output = call.split()[1]
            assert not output.endswith("/"), f"configure_file output is a folder path: {output}"


def _run_cmake_script(tmp_path: Path, body: str) -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    binary_dir = tmp_path / "build"
    script = tmp_path / "copy_models.cmake"
    script.write_text(f'set(CMAKE_CURRENT_SOURCE_DIR "{REPO_ROOT / "OrthoAI"}")\n'
                      f'set(CMAKE_BINARY_DIR "{binary_dir}")\n'
                      f'set(Slicer_QTSCRIPTEDMODULES_LIB_DIR "{SCRIPTED_MODULES_DIR}")\n' + body)
    subprocess.run(["cmake", "-P", str(script)], check=True, capture_output=True, text=True)
    return binary_dir / SCRIPTED_MODULES_DIR


def test_cmake_copies_every_model_file_into_the_models_folder_of_a_fresh_build_tree(tmp_path):
    scripted = _run_cmake_script(tmp_path, _models_block())
    models = scripted / "Resources" / "Models"
    assert models.is_dir()
    shipped = sorted(p for p in MODELS.iterdir() if p.suffix in (".json", ".pt"))
    assert sorted(p.name for p in models.iterdir()) == [p.name for p in shipped]
    for source in shipped:
        assert filecmp.cmp(source, models / source.name, shallow=False), source.name
    # Where OrthoAILib.runtime.registry.shipped_models_dir() looks from <qt-scripted-modules>/OrthoAILib.
    assert (scripted / "OrthoAILib").parent.joinpath("Resources", "Models", "Models.json").is_file()


def test_cmake_writes_a_file_for_a_folder_path_that_does_not_exist(tmp_path):
    """The behaviour the models block avoids (CMake's documented rule, seen with the installed cmake)."""
    scripted = _run_cmake_script(tmp_path, f'configure_file("{MODELS / "Models.json"}" '
                                           '"${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}/Resources/Models/" '
                                           "COPYONLY)\n")
    assert (scripted / "Resources" / "Models").is_file()


# -- .ui files: only properties the widget classes have ---------------------------------------------------

# The widget classes Slicer 5.8's parameter node can bind (Base/Python/slicer/parameterNodeWrapper/
# guiConnectors.py: each connector matches the exact class, not a subclass; a float binds to QDoubleSpinBox
# or ctkSliderWidget only, so a ctkDoubleSpinBox with a SlicerParameterName stops the panel's setup).
SCRIPTED_MODULES = {name: (REPO_ROOT / folder / f"{name}.py", REPO_ROOT / folder / "Resources" / "UI" / f"{name}.ui")
                    for folder, name in (("OrthoAI", "OrthoAI"), ("OrthoAI", "Endoscopy"), ("OrthoAI", "FetalUltrasound"),
                                         ("KneeCartilage", "KneeCartilage"), ("HipTHA", "HipTHA"))}
BINDABLE_WIDGETS = {"QCheckBox", "QPushButton", "QSlider", "QSpinBox", "QDoubleSpinBox", "ctkSliderWidget", "QComboBox",
                    "QLineEdit", "QTextEdit", "ctkRangeWidget", "ctkPathLineEdit", "ctkDirectoryButton", "qMRMLNodeComboBox"}


@pytest.mark.parametrize("module", SCRIPTED_MODULES)
def test_every_bound_widget_is_one_the_parameter_node_can_bind(module):
    ui = ElementTree.parse(SCRIPTED_MODULES[module][1])
    for widget in ui.iter("widget"):
        if any(p.get("name") == "SlicerParameterName" for p in widget.findall("property")):
            assert widget.get("class") in BINDABLE_WIDGETS, (widget.get("name"), widget.get("class"))


@pytest.mark.parametrize("module", SCRIPTED_MODULES)
def test_modules_call_no_ctk_method_python_cannot_reach(module):
    """Slicer wraps CTK widgets for Python by their Qt meta-objects: properties, signals and slots.
    ctkDoubleSpinBox.spinBox() is a plain method, not reachable from Python."""
    source = SCRIPTED_MODULES[module][0].read_text(encoding="utf-8")
    assert ".spinBox()" not in source


@pytest.mark.parametrize("module, spin_boxes", [("HipTHA", ("pixelSpacingSpinBox", "cupDiameterSpinBox")),
                                                ("FetalUltrasound", ("pixelSizeSpinBox", "gaWeeksSpinBox"))])
def test_spin_boxes_at_zero_say_what_zero_means(module, spin_boxes):
    source = SCRIPTED_MODULES[module][0].read_text(encoding="utf-8")
    for name in spin_boxes:
        assert re.search(rf"\.{name}\.specialValueText = _\(", source), name


# -- parameter node binding: our own handle, never connectGui's return value ------------------------------

def test_gui_binding_keeps_the_tag_that_every_slicer_release_returns():
    """Slicer 5.8's connectGui returns None; connectParametersToGui returns the tag (wrapper.py)."""
    widget = (SUPPORT / "widget.py").read_text(encoding="utf-8")
    for path in [SUPPORT / "widget.py", *(REPO_ROOT / m / f"{m}.py" for m in MODULES)]:
        assert ".connectGui(" not in path.read_text(encoding="utf-8"), path
    assert "tag = self._parameterNode.connectParametersToGui(parameterWidgets(self.uiWidget))" in widget
    assert "wrapper.disconnectGui(tag)" in widget


# -- markups: the nine landmarks are placed in one go, by Slicer's own markups widget ------------------------

def _hip_landmark_settings() -> list[tuple[str, str]]:
    """(method, argument source) of the calls HipTHALogic.createLandmarks makes on the new landmark set."""
    tree = ast.parse((REPO_ROOT / "HipTHA" / "HipTHA.py").read_text(encoding="utf-8"))
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "createLandmarks")
    calls = [n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and getattr(n.func.value, "id", "") == "landmarks"]
    return [(call.func.attr, ast.unparse(call.args[0])) for call in calls]


def _click_until_place_mode_ends(app, node, persistent: bool, max_clicks: int = 12) -> int:
    """Left clicks in a real slice view's markups displayable manager while place mode lasts."""
    import slicer
    import vtk

    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    scene = app.scene
    slice_logic = slicer.vtkMRMLSliceLogic()
    slice_logic.SetMRMLApplicationLogic(app.app_logic)
    slice_logic.SetMRMLScene(scene)
    slice_node = scene.GetSingletonNode("Red", "vtkMRMLSliceNode") or slice_logic.AddSliceNode("Red")
    slice_logic.SetSliceNode(slice_node)
    slice_node.SetDimensions(400, 400, 1)
    slice_node.SetFieldOfView(400, 400, 1)
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(400, 400)
    renderer = vtk.vtkRenderer()
    window.AddRenderer(renderer)
    interactor = vtk.vtkRenderWindowInteractor()  # the displayable managers need one; it never starts
    interactor.SetRenderWindow(window)
    factory = slicer.vtkMRMLSliceViewDisplayableManagerFactory.GetInstance()
    factory.SetMRMLApplicationLogic(app.app_logic)
    if not factory.IsDisplayableManagerRegistered("vtkMRMLMarkupsDisplayableManager"):
        factory.RegisterDisplayableManager("vtkMRMLMarkupsDisplayableManager")
    group = factory.InstantiateDisplayableManagers(renderer)
    selection = scene.GetNodeByID("vtkMRMLSelectionNodeSingleton")
    interaction = scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    clicks = 0
    try:
        group.SetMRMLDisplayableNode(slice_node)
        window.Render()
        manager = group.GetDisplayableManagerByClassName("vtkMRMLMarkupsDisplayableManager")
        # What qSlicerMarkupsPlaceWidget::setPlaceModeEnabled(true) does (placeActive(True) calls it).
        selection.SetReferenceActivePlaceNodeClassName(node.GetClassName())
        selection.SetActivePlaceNodeID(node.GetID())
        interaction.SetPlaceModePersistence(1 if persistent else 0)
        interaction.SetCurrentInteractionMode(interaction.Place)
        while interaction.GetCurrentInteractionMode() == interaction.Place and clicks < max_clicks:
            xy = (40 + 30 * clicks, 200)
            for event in (vtk.vtkCommand.MouseMoveEvent, vtk.vtkCommand.LeftButtonPressEvent,
                          vtk.vtkCommand.LeftButtonReleaseEvent):
                data = slicer.vtkMRMLInteractionEventData()
                data.SetType(event)
                data.SetDisplayPosition(list(xy))
                data.SetWorldPosition(slice_node.GetXYToRAS().MultiplyPoint([*xy, 0, 1])[:3])
                data.SetRenderer(renderer)
                data.SetViewNode(slice_node)
                data.SetInteractionContextName("Mouse")
                if manager.CanProcessInteractionEvent(data, vtk.reference(0.0)):
                    manager.ProcessInteractionEvent(data)
            clicks += 1
    finally:
        interaction.SetCurrentInteractionMode(interaction.ViewTransform)
        interaction.SetPlaceModePersistence(0)
        group.SetMRMLDisplayableNode(None)
        window.Finalize()
        slice_logic.SetMRMLScene(None)
    return clicks


@pytest.mark.parametrize("persistent", [False, True], ids=["single-place mode", "persistent place mode"])
def test_hip_landmark_set_takes_nine_clicks_and_no_more(slicer_app, scene, persistent):
    from OrthoAILib.mrml.markups import unplaced_fiducials
    from OrthoAILib.pipelines.hip.landmarks import LANDMARK_NAMES

    settings = _hip_landmark_settings()
    assert {method for method, _ in settings} >= {"SetRequiredNumberOfControlPoints"}
    node = unplaced_fiducials(LANDMARK_NAMES, "Hip landmarks", scene=scene)  # what createLandmarks starts from
    for method, argument in settings:
        getattr(node, method)(eval(argument, {"len": len, "LANDMARK_NAMES": LANDMARK_NAMES}))

    clicks = _click_until_place_mode_ends(slicer_app, node, persistent)

    assert clicks == len(LANDMARK_NAMES)
    assert node.GetNumberOfControlPoints() == len(LANDMARK_NAMES)
    assert node.GetNumberOfUndefinedControlPoints() == 0
    x = [node.GetNthControlPointPositionWorld(i)[0] for i in range(len(LANDMARK_NAMES))]
    # clicks go left to right on screen; the slice view may show RAS x either way round (radiological)
    assert x in (sorted(x), sorted(x, reverse=True)), "points are placed in their order, one per click"


def test_a_point_list_without_required_points_takes_one_click(slicer_app, scene):
    """The default the module changes: Slicer leaves place mode after the first point."""
    from OrthoAILib.mrml.markups import unplaced_fiducials
    from OrthoAILib.pipelines.hip.landmarks import LANDMARK_NAMES

    node = unplaced_fiducials(LANDMARK_NAMES, "Hip landmarks", scene=scene)
    assert _click_until_place_mode_ends(slicer_app, node, persistent=False) == 1
    assert node.GetNumberOfUndefinedControlPoints() == len(LANDMARK_NAMES) - 1


# -- self-tests: a skip reads as a skip in the application ------------------------------------------------

class _Recorded(unittest.TestCase):
    """A module test case as Slicer builds it: ``<Module>Test()``, methods called by ``runTest``."""

    __test__ = False  # run by the tests below, not collected by pytest

    def __init__(self, methodName="runTest"):
        super().__init__(methodName)
        self.calls = []

    def runTest(self):
        pass

    def setUp(self):
        self.calls.append("setUp")

    def tearDown(self):
        self.calls.append("tearDown")

    def test_passes(self):
        self.calls.append("passes")

    def test_skips(self):
        self.skipTest("torch is not installed")

    def test_fails(self):
        self.assertEqual(1, 2)


def test_a_skipped_self_test_is_reported_and_the_next_one_runs():
    from OrthoAIModuleSupport.selftest import run_test_methods

    case, shown = _Recorded(), []
    results = run_test_methods(case, ("test_skips", "test_passes"), report=shown.append)
    assert results == {"test_skips": "skipped: torch is not installed", "test_passes": "passed"}
    assert case.calls == ["setUp", "tearDown", "setUp", "passes", "tearDown"]
    assert any("test_skips skipped: torch is not installed" in line for line in shown)
    assert "1 passed, 1 skipped" in shown[-1]


def test_a_failing_self_test_still_fails():
    from OrthoAIModuleSupport.selftest import run_test_methods

    with pytest.raises(AssertionError):
        run_test_methods(_Recorded(), ("test_passes", "test_fails"))


@pytest.mark.parametrize("module", MODULES)
def test_run_test_runs_every_test_method_through_the_skip_aware_runner(module):
    tree = ast.parse((REPO_ROOT / module / f"{module}.py").read_text(encoding="utf-8"))
    test_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f"{module}Test")
    methods = {n.name: n for n in test_class.body if isinstance(n, ast.FunctionDef)}
    call = next(n for n in ast.walk(methods["runTest"]) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "run_test_methods")
    listed = [element.value for element in call.args[1].elts]
    assert sorted(listed) == sorted(name for name in methods if name.startswith("test_"))


# -- dependencies: both Slicer paths, real requirement files, real installed metadata ------------------------

@pytest.fixture
def requirements_file(tmp_path):
    import importlib.metadata

    path = tmp_path / "requirements.txt"
    path.write_text("# comment\n"
                    f"numpy>={importlib.metadata.version('numpy')}  # installed, satisfied\n"
                    "pytest<1  # installed, too new\n"
                    "orthoai-test-package-that-is-not-installed==1.0\n"
                    "--index-url https://example.invalid/simple\n"
                    "pywin32>=300; sys_platform == 'win32'\n")
    return path


class _Recorder:
    """A plain callable that remembers its calls (and the constraints file as it was during the call)."""

    def __init__(self, result=None):
        self.calls, self.constraints, self.result = [], [], result

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        for value in [*args, *kwargs.values()]:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, str) and "orthoai-constraints-" in item:
                    self.constraints.append(Path(item).read_text(encoding="utf-8"))
        return self.result


def test_shipped_requirements_parse_the_way_slicer_load_requirements_reads_them():
    """slicer.packaging.load_requirements strips each line and skips only lines starting with "#" or "-":
    an inline comment would reach packaging's Requirement() and fail there."""
    from packaging.requirements import Requirement

    from OrthoAIModuleSupport.dependencies import REQUIREMENTS, read_requirements

    slicer_lines = [l.strip() for l in REQUIREMENTS.read_text(encoding="utf-8").splitlines()
                    if l.strip() and not l.strip().startswith(("#", "-"))]
    assert [str(Requirement(line)) for line in slicer_lines] == read_requirements(REQUIREMENTS)


def test_missing_requirements_read_from_installed_metadata(requirements_file):
    from OrthoAIModuleSupport.dependencies import missing_requirements, read_requirements

    lines = read_requirements(requirements_file)
    assert len(lines) == 4 and not any(line.startswith("-") for line in lines)
    assert missing_requirements(lines) == ["pytest<1", "orthoai-test-package-that-is-not-installed==1.0"]


def test_shipped_requirements_are_all_installed_here():
    """The test environment has what the extension installs into Slicer: nothing to install, no prompt."""
    from OrthoAIModuleSupport.dependencies import REQUIREMENTS, install_requirements

    confirm, install = _Recorder(True), _Recorder()
    assert install_requirements("HipTHA", REQUIREMENTS, None, confirm, install) == []
    assert confirm.calls == [] and install.calls == []


def test_without_pip_ensure_missing_packages_are_asked_for_then_pip_installed_with_constraints(requirements_file):
    import importlib.metadata

    from OrthoAIModuleSupport.dependencies import install_requirements

    confirm, install = _Recorder(True), _Recorder()
    missing = install_requirements("HipTHA", requirements_file, None, confirm, install)

    assert missing == ["pytest<1", "orthoai-test-package-that-is-not-installed==1.0"]
    assert "pytest<1" in confirm.calls[0][0][0] and "HipTHA" in confirm.calls[0][0][0]
    (args,), _ = install.calls[0]
    assert args[:3] == ["-r", str(requirements_file), "-c"]  # slicer.util.pip_install(list) in Slicer 5.8
    pinned = install.constraints[0].split()
    assert f"numpy=={importlib.metadata.version('numpy')}" in pinned
    assert f"torch=={importlib.metadata.version('torch')}" in pinned
    assert not Path(args[3]).exists(), "the constraints file is removed after installing"


def test_without_pip_ensure_a_refusal_installs_nothing(requirements_file):
    from OrthoAIModuleSupport.dependencies import install_requirements

    confirm, install = _Recorder(False), _Recorder()
    with pytest.raises(RuntimeError, match="cannot run without"):
        install_requirements("OrthoAI", requirements_file, None, confirm, install)
    assert install.calls == []


def test_with_pip_ensure_slicer_checks_asks_and_installs(requirements_file):
    import importlib.metadata

    from packaging.requirements import Requirement

    from OrthoAIModuleSupport.dependencies import install_requirements, read_requirements

    # Slicer's load_requirements(path) -> list[Requirement]; pip_ensure(requirements, constraints=, requester=)
    packaging = types.SimpleNamespace(load_requirements=lambda path: [Requirement(l) for l in read_requirements(path)],
                                      pip_ensure=_Recorder())
    confirm, install = _Recorder(True), _Recorder()
    install_requirements("KneeCartilage", requirements_file, packaging, confirm, install)

    (requirements,), options = packaging.pip_ensure.calls[0]
    assert [str(r) for r in requirements][:2] == [f"numpy>={importlib.metadata.version('numpy')}", "pytest<1"]
    assert options["requester"] == "KneeCartilage" and "torch==" in packaging.pip_ensure.constraints[0]
    assert confirm.calls == [] and install.calls == [], "pip_ensure prompts and installs by itself"


def test_pip_ensure_is_found_only_where_slicer_has_it():
    from OrthoAIModuleSupport.dependencies import find_packaging_module

    def absent(name):
        raise ModuleNotFoundError(name)

    with_pip_ensure = types.SimpleNamespace(pip_ensure=print, load_requirements=print)
    without = types.SimpleNamespace(pip_install=print)  # a slicer.packaging without pip_ensure
    assert find_packaging_module(absent) is None
    assert find_packaging_module(lambda name: without) is None
    assert find_packaging_module(lambda name: with_pip_ensure) is with_pip_ensure
    assert find_packaging_module() is None  # this slicer-core wheel: no slicer.packaging with pip_ensure


def test_importable_torch_needs_no_pytorch_extension():
    from OrthoAIModuleSupport.dependencies import provide_torch, torch_importable

    def no_extension():
        raise ModuleNotFoundError("PyTorchUtils")

    assert torch_importable()
    assert provide_torch(True, no_extension) == "installed"
    with pytest.raises(RuntimeError, match="PyTorch"):
        provide_torch(False, no_extension)


def test_without_torch_the_pytorch_extension_installs_it_or_says_what_to_do():
    from OrthoAIModuleSupport.dependencies import provide_torch

    def extension(installed_module):
        class PyTorchUtilsLogic:
            asked = []

            def torchInstalled(self):
                return False

            def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None):
                self.asked.append(askConfirmation)
                return installed_module

        return types.SimpleNamespace(PyTorchUtilsLogic=PyTorchUtilsLogic)

    accepted = extension(types.SimpleNamespace(__version__="2.8.0"))
    assert provide_torch(False, lambda: accepted) == "PyTorch extension"
    assert accepted.PyTorchUtilsLogic.asked == [True]
    with pytest.raises(RuntimeError, match="not installed"):
        provide_torch(False, lambda: extension(None))


# -- busy buttons stay disabled, whatever refreshes the panel ------------------------------------------------

def test_busy_buttons_stay_disabled_through_refreshes_and_come_back_after():
    from OrthoAIModuleSupport.busy import BusyButtons

    detect, load_demo, other = (types.SimpleNamespace(enabled=True) for _ in range(3))
    load_demo.enabled = False  # disabled before the work: stays so after it
    busy = BusyButtons()
    busy.start([detect, load_demo])
    assert busy.active and not detect.enabled

    detect.enabled = other.enabled = True  # a parameter change re-computes button states...
    busy.hold()  # ...and the panel's refresh ends with the busy state
    assert not detect.enabled and other.enabled
    with pytest.raises(RuntimeError):
        busy.start([other])

    busy.finish()
    assert not busy.active and detect.enabled and not load_demo.enabled
    busy.hold()
    assert detect.enabled


def test_every_panel_refresh_goes_through_the_busy_state():
    widget = ast.parse((SUPPORT / "widget.py").read_text(encoding="utf-8"))
    refresh = next(n for n in ast.walk(widget) if isinstance(n, ast.FunctionDef) and n.name == "refresh")
    assert [ast.unparse(s) for s in refresh.body[1:3]] == ["self.onParameterNodeModified(caller, event)",
                                                           "self._busy.hold()"]
    observed = re.findall(r"vtk\.vtkCommand\.ModifiedEvent, self\.(\w+)\)", (SUPPORT / "widget.py").read_text(encoding="utf-8"))
    assert observed and set(observed) == {"refresh"}
    for module in MODULES:  # modules never refresh around the busy state
        tree = ast.parse((REPO_ROOT / module / f"{module}.py").read_text(encoding="utf-8"))
        direct = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Attribute) and n.func.attr == "onParameterNodeModified"]
        assert not direct, module


# -- Slicer 5.8 runs Python 3.9; the catalog entry has only the schema's fields ------------------------------

def _files_slicer_imports():
    yield from (REPO_ROOT / m / f"{m}.py" for m in MODULES)
    yield from SUPPORT.glob("*.py")


@pytest.mark.parametrize("path", list(_files_slicer_imports()), ids=lambda p: p.name)
def test_module_side_code_is_python_3_9(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))
    if any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in tree.body):
        return  # annotations are strings there, never evaluated
    # Module files have none: their annotations are evaluated (parameterNodeWrapper reads them with
    # typing.get_type_hints), and "X | Y" there needs Python 3.10.
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            annotations = [a.annotation for a in arguments] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in filter(None, annotations):
            assert not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(annotation)), \
                f"{path.name}:{node.lineno}"


# Properties of slicer-extension-catalog-entry-schema-v1.0.1.json (Slicer/Schemas); additionalProperties is false,
# and none of them states Slicer or torch versions.
CATALOG_ENTRY_PROPERTIES = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                            "build_subdirectory", "enabled", "tier"}


def test_catalog_entry_uses_only_schema_fields():
    entry = json.loads((REPO_ROOT / "OrthoAI.json").read_text(encoding="utf-8"))
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.1.json#")
    assert set(entry) <= CATALOG_ENTRY_PROPERTIES and {"$schema", "category", "scm_url"} <= set(entry)
    assert entry.get("tier", 5) in (1, 3, 5)


def test_extension_description_states_the_supported_versions():
    text = (REPO_ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    description = re.search(r'set\(EXTENSION_DESCRIPTION "([^"]*)"\)', text).group(1)
    assert "Slicer 5.8 or later" in description and "torch" in description
