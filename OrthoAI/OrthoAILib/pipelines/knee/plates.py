"""Cartilage plates: their names, the label values that make them, and the user's mapping.

The pipeline writes 1 femoral, 2 medial tibial, 3 lateral tibial, 4 patellar cartilage (the layout of
the OAI-ZIB and pymskt label maps). A user's labelmap may use other values, and several values may
form one plate (``tibial=2,3``): :func:`parse_label_spec` reads that mapping.
"""

from __future__ import annotations

from ...errors import InputError

PLATE_NAMES = ("femoral", "tibial_medial", "tibial_lateral", "tibial", "patellar")
DEFAULT_LABELS: dict[str, tuple[int, ...]] = {"femoral": (1,), "tibial_medial": (2,), "tibial_lateral": (3,),
                                               "patellar": (4,)}
PLATE_TITLES = {"femoral": "femoral cartilage", "tibial_medial": "medial tibial cartilage",
                "tibial_lateral": "lateral tibial cartilage", "tibial": "tibial cartilage",
                "patellar": "patellar cartilage"}
PLATE_COLOURS = {"femoral": (0.36, 0.69, 0.91), "tibial_medial": (0.93, 0.55, 0.26),
                 "tibial_lateral": (0.98, 0.78, 0.30), "tibial": (0.93, 0.55, 0.26), "patellar": (0.55, 0.82, 0.44)}
SPEC_EXAMPLE = "femoral=1,tibial_medial=2,tibial_lateral=3,patellar=4"
# Slicer's terminology of a segment: category Tissue, type Cartilage (3D Slicer General Anatomy list,
# SNOMED CT 309312004), anatomic region Knee (DICOM CID 4031, SNOMED CT 72696002). The plate is in
# the segment's name; the terminology says what tissue and where, as DICOM SEG export needs.
CARTILAGE_TERMINOLOGY = ("Segmentation category and type - 3D Slicer General Anatomy list~SCT^85756007^Tissue"
                         "~SCT^309312004^Cartilage~^^~Anatomic codes - DICOM master list~SCT^72696002^Knee~^^")


def parse_label_spec(text: str) -> dict[str, tuple[int, ...]]:
    """``"femoral=1,tibial=2,3,patellar=4"`` → ``{"femoral": (1,), "tibial": (2, 3), "patellar": (4,)}``.

    A bare number after a plate adds a value to that plate."""
    plates: dict[str, list[int]] = {}
    current = None
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if "=" in token:
            name, _, token = (part.strip() for part in token.partition("="))
            if name not in PLATE_NAMES:
                raise InputError(f"--labels: unknown plate {name!r}; plates are {', '.join(PLATE_NAMES)} "
                                 f"(e.g. {SPEC_EXAMPLE}).")
            if name in plates:
                raise InputError(f"--labels: plate {name!r} is given twice; list all its values once, e.g. tibial=2,3.")
            current = name
            plates[current] = []
            if not token:
                continue
        if current is None:
            raise InputError(f"--labels: {token!r} comes before any plate name; write it as plate=value (e.g. {SPEC_EXAMPLE}).")
        try:
            value = int(token)
        except ValueError:
            raise InputError(f"--labels: {token!r} is not a label value (a whole number), in {text!r}.") from None
        if not 0 < value < 65536:
            raise InputError(f"--labels: label value {value} is outside 1-65535 (0 is background).")
        plates[current].append(value)
    if not plates:
        raise InputError(f"--labels: no plates given; write e.g. {SPEC_EXAMPLE}.")
    empty = [name for name, values in plates.items() if not values]
    if empty:
        raise InputError(f"--labels: plate {empty[0]!r} has no value; write e.g. {empty[0]}=1.")
    if "tibial" in plates and ({"tibial_medial", "tibial_lateral"} & plates.keys()):
        raise InputError("--labels: give either tibial (both plates as one) or tibial_medial and tibial_lateral, not both.")
    seen: dict[int, str] = {}
    for name, values in plates.items():
        for value in values:
            if value in seen:
                raise InputError(f"--labels: value {value} is given to both {seen[value]} and {name}.")
            seen[value] = name
    return {name: tuple(values) for name, values in plates.items()}
