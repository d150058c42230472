"""The fetal inference server over real sockets on 127.0.0.1: protocol, token, limits, the queue and
the feed, and the real pipeline's answer for a still.

Protocol tests run without the fetal models (the server loads them on the first still that needs
them); tests that analyse stills skip when the models are not installed.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from OrthoAILib.apps.fetal_client import FetalServerClient, ServerError, summary_line
from OrthoAILib.apps.fetal_server import make_server, sniff_still
from OrthoAILib.phantoms.fetal_us import make_fetal_still, write_us_dicom
from OrthoAILib.runtime.registry import default_registry_path

from ..conftest import SHARED_DATA

TOKEN = "s3cret-token-for-tests"
# Resources/Models/fetal_head_seg.pt, or beside the registry that $ORTHOAI_MODEL_REGISTRY names (as the library finds it).
MODEL_FILE = default_registry_path().parent / "fetal_head_seg.pt"
needs_models = pytest.mark.skipif(
    not MODEL_FILE.is_file(), reason=f"the fetal models are not installed ({MODEL_FILE} is absent; the fetal training writes it)")
RESULT_KEYS = {"status", "head_found", "hc_mm", "bpd_mm", "ofd_mm", "cephalic_index", "ellipse", "class",
               "class_probabilities", "flags", "warnings", "intended_use"}


@contextlib.contextmanager
def running_server(**options):
    """A real server on a free port, served from a thread; its log lines collected in ``server.lines``."""
    lines: list[str] = []
    options.setdefault("load_models", False)
    server = make_server("127.0.0.1", 0, options.pop("token", TOKEN), log=lines.append, **options)
    server.lines = lines
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        assert not thread.is_alive()


def png_of(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def call(server, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN, headers=None):
    """``(status, headers, JSON or bytes)`` of one request."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=120)
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    if response.getheader("Content-Type") == "application/json":
        content = json.loads(content)
    return response.status, response, content


def raw_exchange(server, head: bytes, body: bytes = b"", half_close: bool = False) -> tuple[int, dict]:
    """Send a hand-made request (headers as given, a body that may be shorter than announced)."""
    with socket.create_connection(server.server_address[:2], timeout=20) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    document = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert list(document) == ["error"] and "Traceback" not in document["error"]
    return int(status_line.split()[1]), document


def analyse_head(length: int, token: str = TOKEN) -> bytes:
    return (f"POST /v1/analyse?filename=x.png HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.fixture
def protocol_server():
    with running_server(max_upload_mb=1, read_timeout_s=1.0) as server:
        yield server


# -- protocol ---------------------------------------------------------------------------------------------
def test_health_needs_no_token_and_reports_counts(protocol_server):
    status, _, document = call(protocol_server, "GET", "/v1/health", token=None)
    assert status == 200
    assert document["status"] == "ok" and document["queued"] == 0 and document["processed"] == 0
    assert document["failed"] == 0
    deadline = time.monotonic() + 5  # the line is written once the answer has gone out
    while not any("GET /v1/health 200" in line for line in protocol_server.lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any("127.0.0.1 GET /v1/health 200" in line for line in protocol_server.lines), protocol_server.lines


@pytest.mark.parametrize("path, method", [("/v1/results", "GET"), ("/v1/results/1/heatmap.png", "GET"),
                                          ("/v1/analyse", "POST")])
@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x", ""])
def test_every_route_but_health_wants_the_token(protocol_server, path, method, token):
    status, response, document = call(protocol_server, method, path, b"x" * 10 if method == "POST" else None, token)
    assert status == 401, document
    assert response.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert "token" in document["error"]


def test_a_server_without_token_lets_everyone_in():
    with running_server(token=None) as server:
        status, _, document = call(server, "GET", "/v1/results", token=None)
        assert status == 200 and document["results"] == []


def test_unknown_route_and_wrong_method(protocol_server):
    status, _, document = call(protocol_server, "GET", "/v1/nothing")
    assert status == 404 and "no such route" in document["error"]
    status, response, document = call(protocol_server, "GET", "/v1/analyse")
    assert status == 405 and response.getheader("Allow") == "POST"
    status, _, document = call(protocol_server, "PATCH", "/v1/health")
    assert status == 501 and set(document) == {"error"}


def test_too_large_is_refused_before_the_body_is_read(protocol_server):
    started = time.perf_counter()
    status, document = raw_exchange(protocol_server, analyse_head(10 * 1024 * 1024))  # 10 MB announced, none sent
    assert status == 413 and "at most" in document["error"]
    assert time.perf_counter() - started < 0.9  # answered at once, not after the 1 s read timeout


def test_missing_content_length_is_411(protocol_server):
    head = f"POST /v1/analyse HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    assert raw_exchange(protocol_server, head)[0] == 411
    chunked = f"POST /v1/analyse HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert raw_exchange(protocol_server, chunked.encode(), b"5\r\nhello\r\n0\r\n\r\n")[0] == 411


@pytest.mark.parametrize("half_close", [True, False], ids=["connection-closed", "stalled"])
def test_truncated_upload_is_400(protocol_server, half_close):
    still = png_of(make_fetal_still(3, shape=(128, 192))[0])
    started = time.perf_counter()
    status, document = raw_exchange(protocol_server, analyse_head(len(still)), still[: len(still) // 3], half_close)
    assert status == 400 and "incomplete upload" in document["error"]
    assert f"of {len(still)} bytes" in document["error"]
    assert time.perf_counter() - started < 5  # the read timeout (1 s here) ends a stalled upload
    assert call(protocol_server, "GET", "/v1/health", token=None)[2]["failed"] == 0  # nothing reached the queue


def cut_dicom(tmp_path) -> bytes:
    pixels, _, pixel_size = make_fetal_still(4, shape=(128, 192))
    data = write_us_dicom(tmp_path / "whole.dcm", pixels, pixel_size).read_bytes()
    return data[: len(data) - 5000]  # the pixel data cut short, as an interrupted copy leaves it


@pytest.mark.parametrize("make_body, expected", [
    (lambda tmp_path: b"this is a text file, not an ultrasound still " * 20, 415),
    (lambda tmp_path: b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, 400),  # looks like a PNG, is not one
    (cut_dicom, 400),
    (lambda tmp_path: png_of(np.zeros((20, 20), np.uint8)), 400),  # an image, too small to be a still
], ids=["text", "fake-png", "cut-dicom", "tiny-png"])
def test_garbage_body_is_a_one_line_client_error(protocol_server, tmp_path, make_body, expected):
    body = make_body(tmp_path)
    status, _, document = call(protocol_server, "POST", "/v1/analyse?filename=x.png", body)
    assert status == expected, document
    assert set(document) == {"error"} and "\n" not in document["error"] and "Traceback" not in document["error"]
    status, _, health = call(protocol_server, "GET", "/v1/health", token=None)
    assert status == 200  # still serving


def test_bad_parameters_are_400(protocol_server):
    for query in ("pixel_size_mm=abc", "pixel_size_mm=40", "ga_weeks=2", "ga_weeks=nan"):
        status, _, document = call(protocol_server, "POST", f"/v1/analyse?{query}", b"\x89PNG\r\n\x1a\n" + b"0" * 200)
        assert status == 400, (query, document)


def test_feed_long_poll_waits_then_returns_empty(protocol_server):
    started = time.perf_counter()
    status, _, document = call(protocol_server, "GET", "/v1/results?after=0&wait=0.5")
    assert status == 200 and document["results"] == [] and document["last_id"] == 0
    assert 0.4 < time.perf_counter() - started < 5
    assert call(protocol_server, "GET", "/v1/results?after=x")[0] == 400
    assert call(protocol_server, "GET", "/v1/results/99/heatmap.png")[0] == 404


def test_sniffing_names_what_the_body_is():
    assert sniff_still(png_of(np.zeros((70, 70), np.uint8))) == ".png"
    assert sniff_still(b"\xff\xd8\xff\xe0" + b"0" * 200) == ".jpg"
    assert sniff_still(b"<html>" + b"0" * 200) is None


def test_shutdown_wakes_long_polls():
    with running_server() as server:
        client = FetalServerClient(server.url, TOKEN)
        box = {}
        waiter = threading.Thread(target=lambda: box.setdefault("r", client.results_after(0, wait_s=30)))
        waiter.start()
        time.sleep(0.3)
    waiter.join(timeout=5)
    assert not waiter.is_alive() and box["r"] == []


def test_client_errors_say_whether_to_retry(protocol_server):
    client = FetalServerClient(protocol_server.url, "wrong")
    with pytest.raises(ServerError) as raised:
        client.results_after(0)
    assert raised.value.status == 401 and not raised.value.transient
    with pytest.raises(ServerError) as raised:
        FetalServerClient("http://127.0.0.1:9", TOKEN, timeout_s=2).health()  # nothing listens on port 9
    assert raised.value.status is None and raised.value.transient
    assert FetalServerClient(protocol_server.url, TOKEN).health()["status"] == "ok"


# -- with the real pipeline ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_server():
    if not MODEL_FILE.is_file():
        pytest.skip(needs_models.kwargs["reason"])
    with running_server(load_models=True) as server:
        yield server


@needs_models
def test_real_pipeline_result_for_a_dicom_still(model_server, tmp_path):
    pixels, ellipse, pixel_size = make_fetal_still(11)
    path = write_us_dicom(tmp_path / "still.dcm", pixels, pixel_size)
    client = FetalServerClient(model_server.url, TOKEN)
    answer = client.analyse(path.read_bytes(), "still.dcm", ga_weeks=22)
    result = answer["result"]
    assert RESULT_KEYS <= set(result) and isinstance(answer["id"], int)
    assert result["pixel_size_mm"] == pytest.approx([pixel_size, pixel_size], rel=1e-6)
    assert result["pixel_size_source"] == "SequenceOfUltrasoundRegions"
    assert "still" in answer["files"]
    still = client.file(answer["id"], "still")
    from PIL import Image

    assert Image.open(io.BytesIO(still)).size == (pixels.shape[1], pixels.shape[0])
    if result["head_found"]:
        assert set(answer["files"]) == {"heatmap", "mask", "still"}
        assert result["hc_mm"] > 0 and result["class"] in result["class_probabilities"]
        heatmap = Image.open(io.BytesIO(client.file(answer["id"], "heatmap.png")))
        assert heatmap.mode == "RGB" and heatmap.size == (pixels.shape[1], pixels.shape[0])
    feed = client.results_after(answer["id"] - 1)
    assert [item["id"] for item in feed] == [answer["id"]] and feed[0]["result"] == result
    assert "still.dcm" in summary_line(feed[0])


def hc18_validation_cases(count: int):
    table = SHARED_DATA / "hc18" / "pixel_size_and_hc.csv"
    if not table.is_file():
        pytest.skip(f"HC18 is not in {table.parent}")
    with table.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["filename"][:3]) % 5 == 0][:count]  # validation subjects
    return [(SHARED_DATA / "hc18" / "images" / r["filename"], float(r["pixel_size_mm"]), float(r["head_circumference_mm"]))
            for r in rows]


@needs_models
def test_real_pipeline_measures_hc18_stills(model_server):
    client = FetalServerClient(model_server.url, TOKEN)
    measured = []
    for path, pixel_size, reference_hc in hc18_validation_cases(3):
        result = client.analyse(path.read_bytes(), path.name, pixel_size_mm=pixel_size)["result"]
        assert result["source"] == path.name and result["pixel_size_mm"] == pytest.approx([pixel_size] * 2)
        if result["head_found"]:
            measured.append((path.name, result["hc_mm"], reference_hc))
    assert len(measured) >= 2, measured  # the segmenter may refuse a hard still, not most of them
    for name, hc, reference_hc in measured:
        assert hc == pytest.approx(reference_hc, rel=0.1), name


@needs_models
def test_concurrent_requests_are_queued_not_lost(model_server):
    client = FetalServerClient(model_server.url, TOKEN)
    before = client.health()["last_id"]
    stills = [png_of(make_fetal_still(100 + i, head=i % 3 != 0, shape=(180, 256))[0]) for i in range(12)]

    def send(index):
        return client.analyse(stills[index], f"concurrent-{index}.png", pixel_size_mm=0.3)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(len(stills))))
    ids = [a["id"] for a in answers]
    assert len(set(ids)) == len(stills)
    assert [a["result"]["source"] for a in answers] == [f"concurrent-{i}.png" for i in range(len(stills))]
    feed = client.results_after(before, limit=1000)
    assert sorted(item["id"] for item in feed) == sorted(ids)
    assert [item["id"] for item in feed] == sorted(item["id"] for item in feed)  # published in id order
    health = client.health()
    assert health["queued"] == 0 and health["processed"] >= len(stills)


@needs_models
def test_full_queue_answers_503_with_retry_after(tmp_path):
    still = png_of(make_fetal_still(7, shape=(180, 256))[0])
    with running_server(load_models=True, max_queue=1, out_dir=tmp_path) as server:
        def send(index):
            return call(server, "POST", f"/v1/analyse?filename=q{index}.png&pixel_size_mm=0.3", still)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, range(8)))
        statuses = sorted(status for status, _, _ in answers)
        assert statuses.count(200) >= 2 and 503 in statuses, statuses
        for status, response, document in answers:
            if status == 503:
                assert int(response.getheader("Retry-After")) >= 1 and "queue is full" in document["error"]
        ok = [document["id"] for status, _, document in answers if status == 200]
        for result_id in ok:  # --out: every result written, JSON and pictures
            written = json.loads((tmp_path / f"{result_id:06d}.json").read_text())
            assert written["id"] == result_id and (tmp_path / f"{result_id:06d}.still.png").is_file()


@needs_models
def test_long_poll_returns_as_soon_as_a_result_arrives(model_server):
    client = FetalServerClient(model_server.url, TOKEN)
    last = client.health()["last_id"]
    box = {}

    def wait():
        started = time.perf_counter()
        box["items"] = client.results_after(last, wait_s=50)
        box["seconds"] = time.perf_counter() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    answer = client.analyse(png_of(make_fetal_still(8, shape=(180, 256))[0]), "poll.png")
    waiter.join(timeout=60)
    assert [item["id"] for item in box["items"]] == [answer["id"]]
    assert box["seconds"] < 40


# -- the commands ------------------------------------------------------------------------------------------
def orthoai_command() -> list[str]:
    executable = shutil.which("orthoai", path=str(Path(sys.executable).parent))
    return [executable] if executable else [sys.executable, "-m", "OrthoAILib.apps"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_refuses_to_start_without_a_token():
    environment = {k: v for k, v in os.environ.items() if k != "ORTHOAI_SERVER_TOKEN"}
    done = subprocess.run([*orthoai_command(), "serve", "--port", str(free_port())], capture_output=True, text=True,
                          timeout=120, env=environment)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--token" in done.stderr


def test_fetal_results_command_prints_the_feed(protocol_server):
    done = subprocess.run([*orthoai_command(), "fetal-results", "--server", protocol_server.url, "--token", TOKEN],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "" and "0 result(s)" in done.stderr
    wrong = subprocess.run([*orthoai_command(), "fetal-results", "--server", protocol_server.url, "--token", "bad"],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "401" in wrong.stderr


@needs_models
def test_serve_command_serves_until_terminated(tmp_path):
    port = free_port()
    process = subprocess.Popen([*orthoai_command(), "serve", "--port", str(port), "--token", TOKEN, "--out",
                                str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        client = FetalServerClient(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2)
        deadline = time.monotonic() + 120
        while True:
            try:
                assert client.health()["models"] == "loaded"
                break
            except ServerError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.2)
        answer = client.analyse(png_of(make_fetal_still(9, shape=(180, 256))[0]), "cli.png", pixel_size_mm=0.3)
        listed = subprocess.run([*orthoai_command(), "fetal-results", "--server", client.base_url, "--token", TOKEN],
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0 and listed.stdout.startswith(f"#{answer['id']}  cli.png  ")
    finally:
        process.terminate()
        stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 0, stderr
    assert "POST /v1/analyse 200" in stderr and "cli.png" not in stderr  # file names stay out of the log
    assert json.loads((tmp_path / f"{answer['id']:06d}.json").read_text())["result"]["source"] == "cli.png"
