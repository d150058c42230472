"""Draw docs/knee_thickness.png: the thickness maps of the real pymskt DESS label map.

    .venv/bin/python scripts/knee-thickness-picture.py
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO.parent / "shared" / "data" / "knee" / "pymskt" / "SAG_3D_DESS_RIGHT_bones_cart_men_fib-label.nrrd"


def main() -> None:
    from OrthoAILib.io.pictures import png_bytes
    from OrthoAILib.io.volume import read_labelmap
    from OrthoAILib.pipelines.knee.biomarkers import measure_labelmap
    from OrthoAILib.pipelines.knee.pictures import thickness_picture
    from OrthoAILib.pipelines.knee.plates import DEFAULT_LABELS

    image = read_labelmap([LABELS])
    biomarkers = measure_labelmap(image.array, image.geometry, DEFAULT_LABELS)
    out = REPO / "docs" / "knee_thickness.png"
    out.write_bytes(png_bytes(thickness_picture(biomarkers)))
    print(out)


if __name__ == "__main__":
    main()
