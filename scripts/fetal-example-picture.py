"""Draw docs/fetal_example.png: an HC18 validation still (CC BY 4.0, van den Heuvel et al. 2018) with
the pipeline's head ellipse and its Grad-CAM heatmap fused. Needs ../shared/data/hc18.

    .venv/bin/python scripts/fetal-example-picture.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "OrthoAI"))
HC18 = ROOT.parent / "shared" / "data" / "hc18"
STILL = "255_HC.png"  # a validation subject (number divisible by 5)


def main() -> None:
    from OrthoAILib.apps.fetal import analyse_file
    from OrthoAILib.pipelines.fetal.heatmap import fuse

    rows = {r["filename"]: r for r in csv.DictReader((HC18 / "pixel_size_and_hc.csv").open(newline=""))}
    analysis = analyse_file(HC18 / "images" / STILL, pixel_size_mm=float(rows[STILL]["pixel_size_mm"]))
    result, document = analysis.result, analysis.to_json()
    grey = np.clip(analysis.plane, 0, 255).astype(np.uint8)
    left = Image.fromarray(np.stack([grey] * 3, axis=-1))
    outline = [tuple(p) for p in result.measures.ellipse.outline(180)]
    ImageDraw.Draw(left).line(outline + [outline[0]], fill=(80, 255, 80), width=3)
    canvas = Image.new("RGB", (2 * grey.shape[1], grey.shape[0]))
    canvas.paste(left, (0, 0))
    canvas.paste(Image.fromarray(fuse(analysis.plane, result.heatmap)), (grey.shape[1], 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 10), f"HC {document['hc_mm']:.1f} mm (expert {float(rows[STILL]['head_circumference_mm']):.1f}), "
                        f"BPD {document['bpd_mm']:.1f}, OFD {document['ofd_mm']:.1f}, CI {document['cephalic_index']:.1f} %",
              fill=(255, 255, 0))
    draw.text((grey.shape[1] + 10, 10), f"Grad-CAM of '{document['class']}' "
                                         f"({document['class_probabilities'][document['class']]:.2f})", fill=(255, 255, 0))
    canvas.resize((1200, 405)).save(ROOT / "docs" / "fetal_example.png", optimize=True)


if __name__ == "__main__":
    main()
