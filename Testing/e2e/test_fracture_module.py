"""The OrthoAI module's fracture panel, checked from its files (the application cannot run here):
the score threshold starts where the pipeline's does and the slider spans the parameter's range."""

import ast
import xml.etree.ElementTree as ElementTree

from OrthoAILib.pipelines.fracture.pipeline import FractureOptions

from ..conftest import REPO_ROOT


def parameter(name: str) -> ast.AnnAssign:
    tree = ast.parse((REPO_ROOT / "OrthoAI" / "OrthoAI.py").read_text(encoding="utf-8"))
    node = next(c for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "OrthoAIParameterNode")
    return next(n for n in node.body if isinstance(n, ast.AnnAssign) and n.target.id == name)


def test_score_threshold_starts_at_the_pipelines_default_within_the_sliders_range():
    field = parameter("scoreThreshold")
    assert ast.literal_eval(field.value) == FractureOptions().score_threshold
    within = next(n for n in ast.walk(field.annotation) if isinstance(n, ast.Call) and n.func.id == "WithinRange")
    low, high = (ast.literal_eval(a) for a in within.args)
    assert low < FractureOptions().score_threshold < high
    ui = ElementTree.parse(REPO_ROOT / "OrthoAI" / "Resources" / "UI" / "OrthoAI.ui")
    slider = next(w for w in ui.iter("widget") if w.get("name") == "scoreThresholdSliderWidget")
    properties = {p.get("name"): p[0].text for p in slider.findall("property")}
    assert properties["SlicerParameterName"] == "scoreThreshold"
    assert (float(properties["minimum"]), float(properties["maximum"])) == (low, high)
