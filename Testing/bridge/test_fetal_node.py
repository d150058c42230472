"""The FetalUltrasound module's use cases on real MRML: Apply on a node (with the real models when they
are there) and the listener that shows the inference server's results as they arrive."""

import csv

import numpy as np
import pytest

from OrthoAILib.apps.fetal_node import ResultListener, analyse_volume, summary_text
from OrthoAILib.geometry import radiograph_geometry
from OrthoAILib.mrml.tables import records_from_table

from ..conftest import REPO_ROOT, SHARED_DATA, scene_node_ids
from .fetal_cases import COLUMNS, PIXEL_MM, ROWS, head_result, refused_result, server_files

MODELS = [REPO_ROOT / "Resources" / "Models" / name for name in ("fetal_head_seg.pt", "fetal_head_shape.pt")]
HC18 = SHARED_DATA / "hc18"
TOKEN = "test-token"


@pytest.fixture
def server():
    """The real inference server (HTTP, token) without models: results are put in its store as its worker would."""
    import threading

    from OrthoAILib.apps.fetal_server import make_server

    served = make_server(port=0, token=TOKEN, load_models=False, keep_files=3, log=lambda line: None)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    thread.join(timeout=10)


def publish(server, result, still_png=None) -> int:
    """A result as the server's worker publishes it: its JSON and its pictures."""
    from OrthoAILib.apps.fetal_server import Job

    still, document, heatmap, mask, _, _ = server_files(result)
    job = Job(b"", "scan.dcm", f"scan{server.results.last_id + 1}.dcm", None, None)
    return server.results.add(job, document, {"still": still_png or still, "heatmap": heatmap, "mask": mask}).id


def client_of(server, token=TOKEN):
    from OrthoAILib.apps.fetal_client import FetalServerClient

    return FetalServerClient(server.url, token, timeout_s=5)


def geometry():
    return radiograph_geometry((ROWS, COLUMNS), (PIXEL_MM, PIXEL_MM))


def test_listener_shows_the_latest_result_then_each_new_one_once(scene, server):
    for _ in range(3):
        publish(server, head_result(geometry()))
    seen = []
    listener = ResultListener(client_of(server), scene, show_existing=1, max_per_poll=2, on_result=seen.append)
    first = listener.poll()
    assert [r.id for r in first] == [3] and first[0].fetal.measured and first[0].source == "scan3.dcm"
    assert listener.poll() == []
    publish(server, refused_result(geometry()))
    for _ in range(2):
        publish(server, head_result(geometry()))
    assert [r.id for r in listener.poll()] == [4, 5]  # at most two per call: the GUI stays responsive
    assert [r.id for r in listener.poll()] == [6]
    assert [r.id for r in seen] == [3, 4, 5, 6] and not listener.received[1].fetal.measured
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsClosedCurveNode") == 3
    hc = [row["Value"] for row in records_from_table(first[0].fetal.table) if row["Key"] == "hc_mm"][0]
    assert hc == pytest.approx(round(head_result(geometry()).measures.biometry.hc_mm, 2), abs=0.011)
    listener.detach()


def test_listener_reports_a_server_it_cannot_reach_or_a_wrong_token(scene, server):
    from OrthoAILib.apps.fetal_client import FetalServerClient

    unreachable = ResultListener(FetalServerClient("http://127.0.0.1:9", TOKEN, timeout_s=2), scene)
    assert unreachable.poll() == [] and "cannot be reached" in unreachable.error
    refused = ResultListener(client_of(server, token="wrong"), scene)
    assert refused.poll() == [] and "401" in refused.error
    publish(server, head_result(geometry()))
    listener = ResultListener(client_of(server), scene)
    assert len(listener.poll()) == 1 and listener.error == ""
    listener.detach()


def test_listener_skips_a_result_it_cannot_show(scene, server):
    listener = ResultListener(client_of(server), scene, show_existing=0)
    assert listener.poll() == []
    publish(server, head_result(geometry()), still_png=b"not a picture")
    publish(server, head_result(geometry()))
    before = scene_node_ids(scene)
    shown = listener.poll()
    assert [r.id for r in shown] == [2] and "Result 1" in listener.error and "not a picture" in listener.error
    assert len(scene_node_ids(scene) - before) > 0 and listener.last_id == 2
    for _ in range(4):  # the server keeps the pictures of its latest 3 results only
        publish(server, head_result(geometry()))
    shown = listener.poll()
    assert [r.id for r in shown] == [4, 5, 6] and "no longer keeps" in listener.error
    listener.detach()


def test_summary_line_gives_measures_or_the_refusal():
    assert summary_text(head_result(geometry())).startswith("HC ")
    assert "class normal" in summary_text(head_result(geometry()))
    assert summary_text(refused_result(geometry())).startswith("Not measured (no_head)")


class RecordedRun:
    """Stands in for the pipeline's ``run`` only (no model): records the image and options it was given
    and returns a prepared result, or raises, as the real one would after its work."""

    def __init__(self, outcome) -> None:
        self.outcome, self.calls = outcome, []

    def run(self, image, options=None, *, progress=None, cancel=None):
        self.calls.append((image, options))
        if progress is not None:
            progress(0.5, "working")
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome(image)


def test_apply_hands_the_still_to_the_pipeline_and_writes_its_result(scene):
    from OrthoAILib.mrml.volumes import volume_from_array
    from OrthoAILib.pipelines.fetal.pipeline import pixel_size_of

    from .fetal_cases import still_pixels, tilted_geometry

    volume = volume_from_array(still_pixels(), tilted_geometry(), "still", scene)
    pipeline = RecordedRun(lambda image: head_result(image.geometry, pixel_size_of(image), 30.0))
    result, fetal = analyse_volume(volume, pipeline, pixel_size_mm=0.12, ga_weeks=30.0)
    (image, options), = pipeline.calls
    assert pixel_size_of(image) == pytest.approx((0.12, 0.12)) and options.ga_weeks == 30.0
    assert np.array_equal(image.plane, still_pixels())
    values = {row["Key"]: row["Value"] for row in records_from_table(fetal.table)}
    assert values["hc_mm"] == pytest.approx(round(result.measures.biometry.hc_mm, 2)) and values["ga_weeks"] == 30.0
    fetal.detach()


@pytest.mark.parametrize("failure", ["error", "cancel"])
def test_a_failed_or_cancelled_apply_leaves_the_scene_as_it_was(scene, failure):
    from OrthoAILib.errors import Cancelled, InputError
    from OrthoAILib.mrml.volumes import volume_from_array
    from OrthoAILib.runtime.progress import CancelToken

    from .fetal_cases import still_pixels, tilted_geometry

    volume = volume_from_array(still_pixels(), tilted_geometry(), "still", scene)
    before = scene_node_ids(scene)
    cancel = CancelToken()
    if failure == "error":
        pipeline, expected = RecordedRun(InputError("the still could not be analysed")), InputError
    else:  # cancelled while the pipeline ran: its result is dropped
        pipeline, expected = RecordedRun(lambda image: head_result(image.geometry)), Cancelled
    with pytest.raises(expected):
        analyse_volume(volume, pipeline, progress=lambda f, m: cancel.cancel(), cancel=cancel)
    assert scene_node_ids(scene) == before
    with pytest.raises(InputError, match="Gestational age"):
        analyse_volume(volume, pipeline, ga_weeks=60.0)
    assert scene_node_ids(scene) == before


# -- with the real models ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipeline():
    missing = [path.name for path in MODELS if not path.is_file()]
    if missing:
        pytest.skip(f"fetal head models not in Resources/Models yet: {', '.join(missing)}")
    from OrthoAILib.errors import ModelError
    from OrthoAILib.pipelines.fetal.pipeline import FetalHeadPipeline

    try:
        return FetalHeadPipeline()
    except ModelError as error:  # files there, registry entries not yet written
        pytest.skip(f"fetal head models not usable yet: {error}")


def hc18_case(name: str):
    path = HC18 / "images" / name
    if not path.is_file():
        pytest.skip(f"HC18 still {path} is not here")
    with (HC18 / "pixel_size_and_hc.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["filename"] == name)
    return path, float(row["pixel_size_mm"]), float(row["head_circumference_mm"])


def load_as_slicer_does(path, scene):
    """The PNG as Slicer's reader shows it (this wheel has no PNG reader): its pixels, LPS-aligned, at 1 mm."""
    from PIL import Image as PILImage

    from OrthoAILib.mrml.fetal.scene import picture_geometry
    from OrthoAILib.mrml.volumes import volume_from_array

    pixels = np.asarray(PILImage.open(path).convert("L"))
    return volume_from_array(pixels, picture_geometry(pixels.shape, None), path.stem, scene)


@pytest.mark.parametrize("name", ["003_HC.png", "001_HC.png"])
def test_apply_on_an_hc18_still_matches_the_file_path(scene, pipeline, name):
    """Through the node (as Slicer shows the PNG) the pipeline sees what the file reader gives it: the
    same status and measures; a measured head gets every node, a refused one its status table only."""
    from OrthoAILib.apps.fetal import analyse_file

    path, pixel_size, reference_hc = hc18_case(name)
    volume = load_as_slicer_does(path, scene)
    result, fetal = analyse_volume(volume, pipeline, pixel_size_mm=pixel_size, ga_weeks=20.0)
    try:
        expected = analyse_file(path, pixel_size_mm=pixel_size, ga_weeks=20.0, pipeline=pipeline).result
        assert result.status == expected.status and fetal.measured == (result.status == "ok")
        values = {row["Key"]: row for row in records_from_table(fetal.table)}
        if not fetal.measured:
            assert values["status"]["Finding"] == result.status and fetal.segmentation is None
            return
        assert result.measures.biometry.hc_mm == pytest.approx(expected.measures.biometry.hc_mm, rel=1e-6)
        assert values["hc_mm"]["Value"] == pytest.approx(round(result.measures.biometry.hc_mm, 2))
        assert values["hc_mm"]["Value"] == pytest.approx(reference_hc, rel=0.08)
        assert values["hc_z_score"]["Value"] == pytest.approx(round(result.measures.growth.z_score, 2))
        assert fetal.heatmap is not None and fetal.segmentation is not None
    finally:
        fetal.detach()


def test_apply_without_a_pixel_size_gives_the_shape_only(scene, pipeline):
    path, _, _ = hc18_case("003_HC.png")
    volume = load_as_slicer_does(path, scene)  # a PNG: shown at Slicer's nominal 1 mm
    result, fetal = analyse_volume(volume, pipeline)
    assert result.pixel_size_mm is None
    if fetal.measured:
        assert np.isnan([r["Value"] for r in records_from_table(fetal.table) if r["Key"] == "hc_mm"][0])
    fetal.detach()


def test_cancel_leaves_the_scene_as_it_was(scene, pipeline):
    from OrthoAILib.errors import Cancelled
    from OrthoAILib.runtime.progress import CancelToken

    path, pixel_size, _ = hc18_case("003_HC.png")
    volume = load_as_slicer_does(path, scene)
    before = scene_node_ids(scene)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        analyse_volume(volume, pipeline, pixel_size_mm=pixel_size, progress=lambda f, m: cancel.cancel(), cancel=cancel)
    assert scene_node_ids(scene) == before
