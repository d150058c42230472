"""Scanner → DICOM listener → inference server → results, with real associations on 127.0.0.1.

The sender is the product's own C-STORE sender (``orthoai dicom-send``); the results are sent back
to a second real Storage SCP standing in for a PACS. Tests that analyse stills skip when the fetal
models are not installed; the load test is marked slow.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pydicom
import pytest

from OrthoAILib.apps.dicom_listener import make_listener
from OrthoAILib.apps.fetal_client import DicomSendError, FetalServerClient, send_files
from OrthoAILib.io.dicom_reports import COMPREHENSIVE_SR, SECONDARY_CAPTURE, content_items
from OrthoAILib.phantoms.fetal_us import make_fetal_still, write_us_dicom

from .test_fetal_server import MODEL_FILE, RESULT_KEYS, TOKEN, needs_models, running_server

SCANNER = "SCANNER1"
PATIENT = "DOE^JANE"


@contextlib.contextmanager
def listening(store, server=None, allowed=(SCANNER,), **options):
    lines: list[str] = []
    printed: list[str] = []
    listener = make_listener(0, "ORTHOAI", allowed, store, server.url if server else None, TOKEN,
                             log=lines.append, out=printed.append, **options)
    listener.lines, listener.printed = lines, printed
    try:
        yield listener
    finally:
        listener.shutdown()


@contextlib.contextmanager
def pacs(aet: str = "PACS"):
    """A second real Storage SCP that keeps what it receives (the results sent back)."""
    from pynetdicom import AE, evt

    received = []

    def on_store(event):
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        received.append(dataset)
        return 0x0000

    ae = AE(ae_title=aet)
    for sop_class in (SECONDARY_CAPTURE, COMPREHENSIVE_SR):
        ae.add_supported_context(sop_class)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        yield server.server_address[1], received
    finally:
        ae.shutdown()


def still_file(folder: Path, seed: int, shape=(540, 800), **attributes) -> Path:
    pixels, _, pixel_size = make_fetal_still(seed, shape=shape)
    attributes.setdefault("patient_name", PATIENT)
    return write_us_dicom(folder / f"still-{seed}.dcm", pixels, pixel_size, InstitutionName="Saint Elsewhere", **attributes)


def send(listener, *paths, aet=SCANNER):
    return [status for _, status in send_files(paths, "127.0.0.1", listener.port, "ORTHOAI", calling_aet=aet)]


def stored(store: Path) -> list[Path]:
    return sorted(store.glob("*.dcm"))


# -- without the models ---------------------------------------------------------------------------------
def test_listener_stores_deidentified_and_answers_echo(tmp_path):
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    store = tmp_path / "store"
    with listening(store) as listener:
        assert send(listener, still_file(tmp_path, 1)) == [0]
        ae = AE(ae_title=SCANNER)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", listener.port, ae_title="ORTHOAI")
        assert assoc.is_established and assoc.send_c_echo().Status == 0
        assoc.release()
    [path] = stored(store)
    data = path.read_bytes()
    assert b"DOE" not in data and b"Elsewhere" not in data
    dataset = pydicom.dcmread(path)
    assert dataset.PatientName == "" and dataset.PatientIdentityRemoved == "YES" and dataset.Modality == "US"
    assert path.name == f"{dataset.SOPInstanceUID}.dcm"
    assert not list(store.glob(".*.tmp"))  # no temporary file left behind


def test_wrong_ae_title_is_rejected_and_nothing_stored(tmp_path):
    store = tmp_path / "store"
    with listening(store) as listener:
        with pytest.raises(DicomSendError, match="rejected"):
            send(listener, still_file(tmp_path, 2), aet="INTRUDER")
        assert send(listener, still_file(tmp_path, 3)) == [0]  # the allowed sender still gets in
    assert len(stored(store)) == 1
    assert any("INTRUDER" in line and "rejected" in line for line in listener.lines), listener.lines


def test_non_ultrasound_is_refused_and_not_stored(tmp_path):
    store = tmp_path / "store"
    ct_capture = still_file(tmp_path, 4, modality="CT", sop_class_uid=SECONDARY_CAPTURE)
    with listening(store) as listener:
        assert send(listener, ct_capture) == [0xC000]
    assert stored(store) == []
    assert listener.counts["refused"] == 1 and listener.counts["stored"] == 0
    assert any("modality CT is not ultrasound" in line for line in listener.lines)


def test_the_same_instance_twice_is_stored_once(tmp_path):
    store = tmp_path / "store"
    path = still_file(tmp_path, 5)
    with listening(store, uid_salt="fixed") as listener:
        assert send(listener, path, path) == [0, 0]
    assert len(stored(store)) == 1 and listener.counts["duplicates"] == 1


def test_store_answers_without_waiting_for_the_server(tmp_path):
    """A server that accepts connections but never answers: C-STORE still succeeds at once, and the
    forwarding gives up with an error written next to the still."""
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(8)
    store = tmp_path / "store"
    url = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
    listener = make_listener(0, "ORTHOAI", [SCANNER], store, url, TOKEN, log=lambda line: None, out=lambda line: None,
                             forward_timeout_s=1.0, retries=0)
    try:
        started = time.perf_counter()
        assert send(listener, still_file(tmp_path, 6)) == [0]
        assert time.perf_counter() - started < 3
        assert listener.wait_idle(10)
    finally:
        listener.shutdown()
        blackhole.close()
    [path] = stored(store)
    error = json.loads(path.with_name(path.name.replace(".dcm", ".fetal.json")).read_text())
    assert "no answer" in error["error"] and listener.counts["forward_failed"] == 1


def test_dicom_send_command(tmp_path):
    store = tmp_path / "store"
    command = [shutil.which("orthoai", path=str(Path(sys.executable).parent)) or sys.executable]
    if command[0] == sys.executable:
        command += ["-m", "OrthoAILib.apps"]
    with listening(store) as listener:
        done = subprocess.run([*command, "dicom-send", str(still_file(tmp_path, 7)), "--to",
                               f"127.0.0.1:{listener.port}:ORTHOAI", "--aet", SCANNER],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "stored (status 0x0000)" in done.stdout
        refused = subprocess.run([*command, "dicom-send", str(still_file(tmp_path, 8)), "--to",
                                  f"127.0.0.1:{listener.port}:ORTHOAI", "--aet", "NOBODY"],
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "rejected" in refused.stderr
        usage = subprocess.run([*command, "dicom-send", "x.dcm", "--to", "nonsense"], capture_output=True, text=True,
                               timeout=120)
        assert usage.returncode == 2 and "HOST:PORT:AET" in usage.stderr
    assert len(stored(store)) == 1


# -- the whole flow, with the real pipeline ---------------------------------------------------------------
@pytest.fixture(scope="module")
def flow_server():
    if not MODEL_FILE.is_file():
        pytest.skip(needs_models.kwargs["reason"])
    with running_server(load_models=True) as server:
        yield server


@needs_models
def test_sender_to_listener_to_server_and_back(flow_server, tmp_path):
    store = tmp_path / "store"
    client = FetalServerClient(flow_server.url, TOKEN)
    last = client.health()["last_id"]
    with listening(store, flow_server) as listener:
        assert send(listener, still_file(tmp_path, 31), still_file(tmp_path, 32)) == [0, 0]
        assert listener.wait_idle(120)
    paths = stored(store)
    assert len(paths) == 2
    for path in paths:
        answer = json.loads(path.with_name(path.name.replace(".dcm", ".fetal.json")).read_text())
        assert set(answer) == {"id", "result", "files"} and RESULT_KEYS <= set(answer["result"])
        assert answer["result"]["pixel_size_source"] == "SequenceOfUltrasoundRegions"
        assert answer["result"]["source"] == path.name
    feed = client.results_after(last)
    assert len(feed) == 2 and all(item["source"].startswith(f"{SCANNER}: ") for item in feed)
    assert len(listener.printed) == 2 and all(line.startswith("#") for line in listener.printed)


@needs_models
def test_results_are_sent_back_as_secondary_capture_and_report(tmp_path):
    path = still_file(tmp_path, 33)
    source = pydicom.dcmread(path)
    with pacs() as (port, received), running_server(load_models=True, send_to=f"127.0.0.1:{port}:PACS") as server:
        answer = FetalServerClient(server.url, TOKEN).analyse(path.read_bytes(), path.name)
    result = answer["result"]
    assert not [w for w in result["warnings"] if w.startswith("send_failed")], result["warnings"]
    kinds = sorted(str(d.SOPClassUID) for d in received)
    assert kinds == sorted([COMPREHENSIVE_SR] + ([SECONDARY_CAPTURE] if result["head_found"] else []))
    report = next(d for d in received if d.SOPClassUID == COMPREHENSIVE_SR)
    assert report.StudyInstanceUID == source.StudyInstanceUID and report.PatientName == PATIENT
    numbers = {i.ConceptNameCodeSequence[0].CodeValue: float(i.MeasuredValueSequence[0].NumericValue)
               for i in content_items(report) if i.ValueType == "NUM"}
    if result["head_found"]:
        assert numbers["11984-2"] == pytest.approx(result["hc_mm"], rel=1e-4)
        capture = next(d for d in received if d.SOPClassUID == SECONDARY_CAPTURE)
        assert capture.pixel_array.shape == (source.Rows, source.Columns, 3)
    else:
        assert "11984-2" not in numbers


@needs_models
def test_a_failed_send_back_is_a_warning_not_a_failure(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    path = still_file(tmp_path, 34)
    with running_server(load_models=True, send_to=f"127.0.0.1:{port}:PACS") as server:
        answer = FetalServerClient(server.url, TOKEN).analyse(path.read_bytes(), path.name)
        assert server.health()["processed"] == 1
    assert any(w.startswith("send_failed") for w in answer["result"]["warnings"])


@needs_models
@pytest.mark.slow
def test_two_hundred_stills_from_four_senders_none_lost(flow_server, tmp_path):
    store, count, senders = tmp_path / "store", 200, 4
    stills = tmp_path / "stills"
    stills.mkdir()
    paths = [still_file(stills, 1000 + i, shape=(96, 128)) for i in range(count)]
    client = FetalServerClient(flow_server.url, TOKEN)
    last = client.health()["last_id"]
    statuses: list[int] = []
    with listening(store, flow_server) as listener:
        started = time.perf_counter()

        def sender(index):
            mine = paths[index::senders]
            statuses.extend(send(listener, *mine, aet=SCANNER))

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        stored_seconds = time.perf_counter() - started
        assert listener.wait_idle(600)
        seconds = time.perf_counter() - started
    assert statuses == [0] * count
    assert len(stored(store)) == count
    answers = [json.loads(p.with_name(p.name.replace(".dcm", ".fetal.json")).read_text()) for p in stored(store)]
    assert all("id" in a for a in answers), [a for a in answers if "id" not in a][:3]
    feed = client.results_after(last, limit=1000)
    assert len(feed) == count and sorted(a["id"] for a in answers) == [item["id"] for item in feed]
    print(f"\n{count} stills from {senders} senders: stored in {stored_seconds:.1f} s, analysed in {seconds:.1f} s "
          f"({count / seconds:.1f} stills/s)", file=sys.__stderr__)
