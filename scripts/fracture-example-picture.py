"""Draw docs/fracture_example.png: the shipped fracture pipeline on a held-out generated CT (a
benchmark seed, never trained on). Left: a coronal slice with the bone labels found (each bone its
colour). Right: the report pictures of the highest-scoring findings (axial slice through the
finding, its box in the class's colour); the true boxes are listed in the printed JSON.

    .venv/bin/python scripts/fracture-example-picture.py [SEED]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main(seed: int = 200_003) -> None:
    from OrthoAILib.io.pictures import png_bytes
    from OrthoAILib.pipelines.fracture.bones import BONES
    from OrthoAILib.pipelines.fracture.pictures import finding_picture
    from OrthoAILib.pipelines.fracture.pipeline import FracturePipeline
    from OrthoAILib.pipelines.fracture.training.data import case_image

    image, case = case_image(seed)
    result = FracturePipeline().run(image)
    colours = np.zeros((len(BONES) + 1, 3), np.float32)
    for bone in BONES:
        colours[bone.value] = np.array(bone.colour) * 255
    j = int(np.median(np.nonzero(case.labels == 4)[1])) if (case.labels == 4).any() else image.array.shape[1] // 2
    grey = np.clip((image.array[::-1, j, :] + 450) / 1500, 0, 1)[..., None].repeat(3, axis=2) * 255  # superior up
    labels = result.bone_labels[::-1, j, :]
    found = labels > 0
    grey[found] = 0.4 * grey[found] + 0.6 * colours[labels[found]]
    # the coronal slice with the patient's right on the left (radiological), at the picture's height
    coronal = grey[:, ::-1] if image.geometry.directions[0][0] < 0 else grey
    scale_z = image.geometry.spacing[2] / image.geometry.spacing[0]
    rows = np.clip((np.arange(int(coronal.shape[0] * scale_z)) / scale_z).astype(int), 0, coronal.shape[0] - 1)
    coronal = coronal[rows].astype(np.uint8)
    tiles = [finding_picture(image.array, image.geometry, f) for f in sorted(result.findings, key=lambda f: -f.score)[:2]]
    height = max([coronal.shape[0]] + [t.shape[0] for t in tiles])
    pad = lambda a: np.pad(a, ((0, height - a.shape[0]), (0, 6), (0, 0)))  # noqa: E731
    out = REPO / "docs" / "fracture_example.png"
    out.write_bytes(png_bytes(np.concatenate([pad(coronal)] + [pad(t) for t in tiles], axis=1)))
    print(json.dumps({"picture": str(out), "status": result.status, "truth": case.boxes_ras(),
                      "found": [f.to_json() for f in result.findings]}, indent=1))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
