"""The fracture pipeline on the real CT in ``../shared/data/ct`` (prints JSON).

    python -m OrthoAILib.pipelines.fracture.training.real_ct [--data ../shared/data/ct] [--out out/fracture/real]

* TotalSegmentator example (Wasserthal et al. 2023, CC BY 4.0): the thorax-to-pelvis CT (3 mm) with
  its vertebra labels, its 30-slice part with the full 104-class map, and the 512² DICOM series with
  its map: Dice per bone of ours that their labels cover (their ribs 1-12 per side are our ribs,
  vertebrae C/T/L grouped, S1 with the sacrum).
* FracSegNet 001 and 002 (Liu et al. 2023, MIT): real fractured pelvises, stored as three bone-masked
  volumes (left and right hip bone, sacrum) with fragment labels. The CT is put back together from
  them: bone where a mask says so, 40 HU soft tissue within 40 mm of bone, air beyond (the source
  removed everything that is not bone; that reconstruction is ours). A bone whose mask holds more
  than one fragment is fractured; the fracture is where two fragments meet (voxels of a fragment
  within 3 mm of another). Reported: the findings, whether one lies on each fracture (its box holds
  fracture voxels), with which bone label, and the findings on intact bones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

# TotalSegmentator v2 label -> ours
TOTALSEG_TO_OURS = {**{v: 1 for v in range(92, 104)}, **{v: 2 for v in range(104, 116)},
                    **{v: 3 for v in range(44, 51)}, **{v: 4 for v in range(32, 44)}, **{v: 5 for v in range(27, 32)},
                    25: 6, 26: 6, 77: 7, 78: 8, 75: 9, 76: 10, 116: 11, 73: 12, 74: 13, 71: 14, 72: 15, 69: 16, 70: 17,
                    91: 18}
FRACSEG_BONES = {"LI": "hip_left", "RI": "hip_right", "SA": "sacrum"}


def _read(path: Path):
    from ....io.volume import read_volume

    return read_volume([path])


def _mapped(labels: np.ndarray) -> np.ndarray:
    lut = np.zeros(max(256, int(labels.max()) + 1), np.uint8)
    for theirs, ours in TOTALSEG_TO_OURS.items():
        lut[theirs] = ours
    return lut[labels.astype(np.int64)]


def totalsegmentator(pipeline, folder: Path) -> dict:
    from ....image import Image, ImageOrigin
    from ....io.ct_series import read_ct
    from ..bones import BONE_BY_VALUE
    from ..evaluation import bone_dice

    out = {}
    dicom_files = sorted(str(p) for p in (folder / "example_ct_dicom").iterdir())
    cases = {"example_ct (3 mm, vertebrae labels)": (_read(folder / "example_ct.nii.gz"), folder / "example_ct_vertebrae_seg.nii.gz"),
             "example_ct_sm (30 slices, full map)": (_read(folder / "example_ct_sm.nii.gz"), folder / "example_seg.nii.gz"),
             "example_ct_dicom (20 slices 512², full map)": (read_ct(dicom_files, "example_ct_dicom")[0], folder / "example_seg_dicom.nii.gz")}
    for name, (image, label_path) in cases.items():
        image = Image(image.array, image.geometry, ImageOrigin(name, "CT"))
        truth = _mapped(np.round(_read(label_path).array).astype(np.int32))
        result = pipeline.run(image)
        if result.bone_labels is None:
            out[name] = {"status": result.status, "message": result.message}
            continue
        values = [int(v) for v in np.unique(truth) if v]
        dice = bone_dice(result.bone_labels, truth, values)
        out[name] = {"status": result.status, "shape_kji": list(image.array.shape),
                     "dice": {BONE_BY_VALUE[v].key: round(d, 3) for v, d in dice.items()},
                     "findings": [f.to_json() for f in result.findings], "timings_s": result.timings_s,
                     "bones_found": sorted(result.bones_found.values())}
    return out


def fracsegnet_case(folder: Path, case: str):
    """The reconstructed CT (an Image), the fragment masks per bone, the fracture voxels per bone."""
    from scipy import ndimage

    from ....image import Image, ImageOrigin

    volumes, masks = {}, {}
    for part in FRACSEG_BONES:
        volumes[part] = _read(folder / case / f"{case}_{part}.nii.gz")
        masks[part] = np.round(_read(folder / case / f"{case}_{part}_mask.nii.gz").array).astype(np.int16)
    geometry = volumes["LI"].geometry
    bone = np.zeros(masks["LI"].shape, bool)
    hu = np.zeros(masks["LI"].shape, np.float32)
    for part in FRACSEG_BONES:
        inside = masks[part] > 0
        hu[inside] = volumes[part].array[inside]
        bone |= inside
    spacing = np.asarray(geometry.spacing)[::-1]
    coarse = ndimage.zoom(bone.astype(np.float32), 0.25, order=1) > 0.1
    distance = ndimage.distance_transform_edt(~coarse, sampling=spacing * 4)
    near = ndimage.zoom((distance < 40).astype(np.float32), np.array(bone.shape) / np.array(coarse.shape), order=0) > 0.5
    near = near[:bone.shape[0], :bone.shape[1], :bone.shape[2]]
    hu[~bone] = np.where(near[~bone], 40.0, -1000.0)
    rng = np.random.default_rng(0)
    hu += rng.standard_normal(hu.shape).astype(np.float32) * 12
    fractures = {}
    for part, mask in masks.items():
        fragments = [int(v) for v in np.unique(mask) if v]
        if len(fragments) < 2:
            continue
        reach = np.ceil(3.0 / spacing).astype(int)
        structure = np.ones(tuple(2 * r + 1 for r in reach), bool)
        line = np.zeros(mask.shape, bool)
        for value in fragments:
            grown = ndimage.binary_dilation(mask == value, structure)
            line |= grown & (mask > 0) & (mask != value)
        fractures[FRACSEG_BONES[part]] = line
    return Image(hu, geometry, ImageOrigin(f"fracsegnet-{case}", "CT")), masks, fractures


def fracsegnet(pipeline, folder: Path) -> dict:
    from ..cleanup import bones_under_box

    out = {}
    for case in ("001", "002"):
        image, _, fractures = fracsegnet_case(folder, case)
        result = pipeline.run(image)
        if result.bone_labels is None:
            out[case] = {"status": result.status, "message": result.message}
            continue
        findings = []
        for finding in result.findings:
            on = [bone for bone, line in fractures.items()
                  if bones_under_box(line.astype(np.uint8), image.geometry, *finding.box_ras_mm, margin_mm=0.0)]
            findings.append({**finding.to_json(), "on_true_fracture_of": on})
        found = {bone: any(bone in f["on_true_fracture_of"] for f in findings) for bone in fractures}
        labelled = {bone: any(bone in f["on_true_fracture_of"] and f["bone"] == bone for f in findings) for bone in fractures}
        out[case] = {"status": result.status, "fractured_bones": sorted(fractures), "found": found,
                     "labelled_with_right_bone": labelled, "findings": findings,
                     "findings_off_true_fractures": sum(1 for f in findings if not f["on_true_fracture_of"]),
                     "bones_found": sorted(result.bones_found.values()), "timings_s": result.timings_s}
    return out


def main(argv=None) -> int:
    from ..pipeline import FractureOptions, FracturePipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[6] / "shared" / "data" / "ct")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    pipeline = FracturePipeline()  # run with its default options, as a user runs it
    report = {"score_threshold": FractureOptions().score_threshold,
              "totalsegmentator": totalsegmentator(pipeline, args.data / "totalsegmentator"),
              "fracsegnet": fracsegnet(pipeline, args.data / "fracsegnet")}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
