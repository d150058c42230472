"""Draw docs/endoscopy_example.png: validation frames of Kvasir-SEG and CVC-ClinicDB (research use,
Jha et al. 2020; Bernal et al. 2015) with the pipeline's depth and its lesions fused (the experts'
outline in white), and a SimCol3D frame's estimated against true depth. Needs ../shared/data.

    .venv/bin/python scripts/endoscopy-example-picture.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "OrthoAI"))
TILE = 224


def tile(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((TILE, TILE)))


def main() -> None:
    from OrthoAILib.apps.endoscopy import analyse_frame_file
    from OrthoAILib.pipelines.endoscopy.fusion import depth_colour, fuse, outline
    from OrthoAILib.pipelines.endoscopy.training.polyps import load_case, polyp_cases, split
    from OrthoAILib.pipelines.endoscopy.training.simcol import load_simcol, simcol_dir
    from OrthoAILib.pipelines.endoscopy.preprocess import prepare
    from OrthoAILib.apps.endoscopy import shared_pipeline

    _, validation = split(polyp_cases())
    chosen = [c for c in validation if c.source == "kvasir"][1:3] + [c for c in validation if c.source == "cvc"][2:4]
    rows = []
    for case in chosen:
        result, rgb = analyse_frame_file(case.image_path)
        _, truth = load_case(case)
        fused = fuse(rgb, result.mask)
        fused[outline(truth, 1)] = 255
        rows.append(np.concatenate([tile(rgb), tile(depth_colour(result.depth_cm, result.field_of_view)), tile(fused)], 1))
    rgb, truth = load_simcol(simcol_dir())[0]
    prepared = prepare(rgb.astype(np.float32) / 255)
    import torch

    with torch.no_grad():
        grid = shared_pipeline().depth_net(torch.from_numpy(prepared.depth_input)[None])[0, 0].numpy()
    estimate = prepared.frame_map.to_frame(grid)
    scale = float((estimate * truth).sum() / (estimate * estimate).sum())
    pair = np.concatenate([scale * estimate, truth], axis=1)  # coloured on one scale
    coloured = depth_colour(pair, np.ones(pair.shape, bool))
    width = truth.shape[1]
    rows.append(np.concatenate([tile(rgb), tile(coloured[:, :width]), tile(coloured[:, width:])], 1))
    picture = np.concatenate(rows, 0)
    Image.fromarray(picture).save(ROOT / "docs" / "endoscopy_example.png", optimize=True)
    print(ROOT / "docs" / "endoscopy_example.png", picture.shape)


if __name__ == "__main__":
    main()
