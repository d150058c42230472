"""``orthoai hip`` refuses what it cannot read: a film that is no AP pelvis gets a clear status in the
CSV and the JSON, no landmarks, and exit status 1, while the other films are measured."""

import csv
import json

import numpy as np
import SimpleITK as sitk

from OrthoAILib.io.radiograph import write_radiograph_dicom
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

from .test_cli import orthoai


def test_a_film_that_is_no_pelvis_is_refused_and_the_batch_goes_on(tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    film = make_pelvis_radiograph(1_000_032, operated="right", spacing_mm=0.25)
    write_radiograph_dicom(films / "pelvis.dcm", film.image, 0.25, bits_stored=film.bit_depth)
    noise = (np.random.default_rng(2).random((1600, 1800)) * 255).astype(np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(noise), str(films / "scan.png"))
    out = tmp_path / "out"
    result = orthoai("hip", films, "--out", out, "--spacing", 0.25, "--no-scene")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "scan.png: not_ap_pelvis" in result.stdout and "does not look like an AP pelvis" in result.stdout
    with open(out / "hip_measures.csv", newline="", encoding="utf-8") as stream:
        rows = {row["input"]: row for row in csv.DictReader(stream)}
    assert rows["pelvis.dcm"]["status"] == "ok" and rows["scan.png"]["status"] == "not_ap_pelvis"
    assert rows["scan.png"]["abduction_deg"] == "" and "AP pelvis" in rows["scan.png"]["warnings"]
    refused = json.loads((out / "scan.measures.json").read_text(encoding="utf-8"))
    assert refused["status"] == "not_ap_pelvis" and refused["sides"] == []
    assert not list(out.glob("scan*.mrk.json"))  # no landmarks for a film that was not read
