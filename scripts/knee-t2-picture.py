"""Draw docs/knee_t2.png: the shipped knee pipeline on the real multi-echo T2 series (pymskt), five
sagittal slices with the plates found (red femoral, green medial tibial, blue lateral tibial,
yellow patellar). No labels exist for this series: the picture is what the README describes.

    .venv/bin/python scripts/knee-t2-picture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SERIES = REPO.parent / "shared" / "data" / "knee" / "pymskt" / "MESE_T2_dicom_data_anon"
COLOURS = np.array([[0, 0, 0], [255, 60, 60], [60, 255, 60], [60, 60, 255], [255, 230, 0]], np.float32)


def main() -> None:
    from OrthoAILib.io.mr_series import read_mr
    from OrthoAILib.io.pictures import png_bytes
    from OrthoAILib.pipelines.knee.pipeline import KneeCartilagePipeline, KneeOptions

    image, _ = read_mr(sorted(str(p) for p in SERIES.glob("*.dcm")), "MESE_T2")
    result = KneeCartilagePipeline().run(image, KneeOptions(measure=False))
    top = float(np.percentile(image.array, 99.5))
    tiles = []
    for k in np.linspace(5, image.array.shape[0] - 6, 5).astype(int):
        grey = np.clip(image.array[k] / top, 0, 1)[..., None].repeat(3, axis=2) * 255
        labels = result.labelmap[k] if result.labelmap is not None else np.zeros(grey.shape[:2], int)
        found = labels > 0
        grey[found] = 0.45 * grey[found] + 0.55 * COLOURS[labels[found]]
        tiles.append(grey.astype(np.uint8))
    out = REPO / "docs" / "knee_t2.png"
    out.write_bytes(png_bytes(np.concatenate(tiles, axis=1)))
    print(out, result.status)


if __name__ == "__main__":
    main()
