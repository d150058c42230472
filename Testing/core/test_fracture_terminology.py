"""The bones' terminology context shipped for Slicer: the file is what the code says, in the form
Slicer's terminologies logic reads, holds every region and laterality a bone segment names, and is
installed with the module."""

import json

from OrthoAILib.pipelines.fracture.bones import BONES, TERMINOLOGY_CONTEXT, terminology_context, terminology_entry

from ..conftest import REPO_ROOT

TERMINOLOGY_FILE = REPO_ROOT / "OrthoAI" / "Resources" / "Terminology" / "OrthoAI-Bones.term.json"
# The two schema addresses vtkSlicerTerminologiesModuleLogic accepts for an anatomic (region) context.
ACCEPTED_SCHEMAS = ("https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/anatomic-context-schema.json#",
                    "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/anatomic-context-schema.json#")


def test_shipped_file_is_the_code_s_context():
    # scripts/write-terminology.py writes it; run it after changing the bones
    assert json.loads(TERMINOLOGY_FILE.read_text(encoding="utf-8")) == terminology_context()


def test_every_segment_s_region_and_laterality_is_in_the_context():
    context = json.loads(TERMINOLOGY_FILE.read_text(encoding="utf-8"))
    assert context["@schema"] in ACCEPTED_SCHEMAS and context["AnatomicContextName"] == TERMINOLOGY_CONTEXT
    regions = {(r["CodingSchemeDesignator"], r["CodeValue"]): r for r in context["AnatomicCodes"]["AnatomicRegion"]}
    for bone in BONES:
        fields = terminology_entry(bone).split("~")
        assert len(fields) == 7 and fields[4] == TERMINOLOGY_CONTEXT  # Slicer's serialised entry has 7 fields
        scheme, value, meaning = fields[5].split("^")
        region = regions[(scheme, value)]
        assert region["CodeMeaning"] == meaning
        if bone.laterality:
            modifier = tuple(fields[6].split("^"))
            assert modifier in {(m["CodingSchemeDesignator"], m["CodeValue"], m["CodeMeaning"]) for m in region["Modifier"]}
        else:
            assert fields[6] == "^^"


def test_the_module_installs_the_file():
    cmake = (REPO_ROOT / "OrthoAI" / "CMakeLists.txt").read_text(encoding="utf-8")
    resources = cmake.split("set(MODULE_PYTHON_RESOURCES", 1)[1].split(")", 1)[0].split()
    assert "Resources/Terminology/OrthoAI-Bones.term.json" in resources
