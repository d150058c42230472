"""The bones the fracture pipeline labels: values, names, colours and SNOMED CT codes.

One label per bone the method asks for (left and right apart where a body has two), and "other
bone" for the rest of the skeleton (skull, forearm, hand, lower leg). The codes are SNOMED CT
concepts as DICOM's anatomic region list (CID 4031/4030) uses them; ``Resources/Terminology``
ships them as a Slicer terminology context, because Slicer's own lists name no single bones of
this set with a laterality and the ``slicer-core`` wheel ships no terminology at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bone:
    value: int
    key: str  # the name in files (JSON, CSV)
    title: str  # the name a person reads
    code: str  # SNOMED CT concept id
    meaning: str  # SNOMED CT meaning
    laterality: str  # "", "left", "right"
    colour: tuple[float, float, float]


_LEFT = ("SCT", "7771000", "left")
_RIGHT = ("SCT", "24028007", "right")

BONES: tuple[Bone, ...] = (
    Bone(1, "rib_left", "rib left", "113197003", "Rib", "left", (0.86, 0.70, 0.47)),
    Bone(2, "rib_right", "rib right", "113197003", "Rib", "right", (0.78, 0.58, 0.36)),
    Bone(3, "vertebrae_cervical", "cervical vertebrae", "122494005", "Cervical spine", "", (0.47, 0.74, 0.86)),
    Bone(4, "vertebrae_thoracic", "thoracic vertebrae", "122495006", "Thoracic spine", "", (0.33, 0.55, 0.85)),
    Bone(5, "vertebrae_lumbar", "lumbar vertebrae", "122496007", "Lumbar spine", "", (0.56, 0.45, 0.82)),
    Bone(6, "sacrum", "sacrum", "54735007", "Sacrum", "", (0.80, 0.40, 0.62)),
    Bone(7, "hip_left", "hip left", "29836001", "Hip", "left", (0.90, 0.49, 0.33)),
    Bone(8, "hip_right", "hip right", "29836001", "Hip", "right", (0.83, 0.35, 0.25)),
    Bone(9, "femur_left", "femur left", "71341001", "Femur", "left", (0.44, 0.78, 0.47)),
    Bone(10, "femur_right", "femur right", "71341001", "Femur", "right", (0.30, 0.63, 0.35)),
    Bone(11, "sternum", "sternum", "56873002", "Sternum", "", (0.95, 0.85, 0.35)),
    Bone(12, "clavicle_left", "clavicle left", "51299004", "Clavicle", "left", (0.40, 0.85, 0.80)),
    Bone(13, "clavicle_right", "clavicle right", "51299004", "Clavicle", "right", (0.25, 0.68, 0.64)),
    Bone(14, "scapula_left", "scapula left", "79601000", "Scapula", "left", (0.95, 0.62, 0.72)),
    Bone(15, "scapula_right", "scapula right", "79601000", "Scapula", "right", (0.82, 0.46, 0.58)),
    Bone(16, "humerus_left", "humerus left", "85050009", "Humerus", "left", (0.68, 0.85, 0.40)),
    Bone(17, "humerus_right", "humerus right", "85050009", "Humerus", "right", (0.52, 0.70, 0.28)),
    Bone(18, "other_bone", "other bone", "272673000", "Bone", "", (0.85, 0.85, 0.80)),
)
BONE_BY_VALUE = {bone.value: bone for bone in BONES}
BONE_BY_KEY = {bone.key: bone for bone in BONES}
# each sided bone's value -> the value of the same bone on the other side
TWIN = {a.value: b.value for a in BONES for b in BONES if a.code == b.code and a.laterality and b.laterality
        and a.laterality != b.laterality}
MIDLINE_BONES = (3, 4, 5, 6, 11)  # vertebrae, sacrum, sternum
BONE_COUNT = len(BONES)  # labels 1..BONE_COUNT; 0 background
OTHER_BONE = 18

TERMINOLOGY_CONTEXT = "OrthoAI bones"
# Category Tissue, type Bone (3D Slicer General Anatomy list): the tissue of every segment; the bone
# itself is the anatomic region (with its laterality as the region modifier), as DICOM SEG puts it.
_CATEGORY_TYPE = "Segmentation category and type - 3D Slicer General Anatomy list~SCT^85756007^Tissue~SCT^272673000^Bone~^^"


def terminology_entry(bone: Bone) -> str:
    """Slicer's ``TerminologyEntry`` tag of a bone segment (category/type from Slicer's general
    anatomy list, anatomic region and laterality from this extension's terminology context)."""
    modifier = {"left": _LEFT, "right": _RIGHT}.get(bone.laterality)
    modifier_text = "^".join(modifier[:2] + (modifier[2].capitalize(),)) if modifier else "^^"
    return f"{_CATEGORY_TYPE}~{TERMINOLOGY_CONTEXT}~SCT^{bone.code}^{bone.meaning}~{modifier_text}"


def terminology_context() -> dict:
    """The anatomic context Slicer loads from ``Resources/Terminology/OrthoAI-Bones.term.json``
    (dcmqi's anatomic-context schema, as Slicer's "Anatomic codes - DICOM master list"). Slicer 5.8
    looks a segment's region up in the loaded contexts and drops it when unknown, so the module
    loads this file before it writes segments."""
    regions = {}
    for bone in BONES:
        entry = regions.setdefault(bone.code, {"CodingSchemeDesignator": "SCT", "CodeValue": bone.code,
                                               "CodeMeaning": bone.meaning})
        if bone.laterality:
            entry["Modifier"] = [{"CodingSchemeDesignator": "SCT", "CodeValue": code, "CodeMeaning": meaning.capitalize()}
                                 for _, code, meaning in (_LEFT, _RIGHT)]
    return {"@schema": "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/anatomic-context-schema.json#",
            "AnatomicContextName": TERMINOLOGY_CONTEXT, "AnatomicCodes": {"AnatomicRegion": list(regions.values())}}
