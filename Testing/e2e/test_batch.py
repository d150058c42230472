"""The batch runner on real files, in this process and in real worker processes.

The job is a real one (``Testing/batch_jobs.py``: image statistics with SimpleITK);
worker deaths are real (the job calls ``os._exit`` in the process running a case).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from OrthoAILib.apps.batch import (DONE, STAGING, UsageError, add_batch_arguments, batch_options, exit_status,
                                   run_batch)
from OrthoAILib.errors import InputError, OrthoAIError
from Testing.batch_jobs import (ImageStatsJob, OverlappedStatsJob, VolumeStatsJob, calls, leftovers, read_csv, write_ct_series,
                                write_films, write_image)
from Testing.conftest import REPO_ROOT, SHARED_DATA


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def films(tmp_path) -> Path:
    return write_films(tmp_path / "in")


def test_nested_inputs_give_one_row_and_distinct_outputs_per_case(films, tmp_path):
    messages = []
    summary = run_batch(ImageStatsJob(), films, tmp_path / "out" / "new", log=messages.append)

    out = tmp_path / "out" / "new"
    rows = read_csv(out / "stats.csv")
    assert [r["input"] for r in rows] == ["p1/s1/film.png", "p1/s2/film.png", "p2/film.nrrd", "p2/film.png", "top.mha", "z.nii.gz"]
    assert {r["status"] for r in rows} == {"ok"} and rows[0]["shape"] == "24x32"
    assert sorted(p.name for p in out.glob("*.stats.json")) == [
        "p1__s1__film.stats.json", "p1__s2__film.stats.json", "p2__film_nrrd.stats.json", "p2__film_png.stats.json",
        "top.stats.json", "z.stats.json"]
    assert json.loads((out / "p2__film_nrrd.stats.json").read_text(encoding="utf-8"))["mean"] == float(rows[2]["mean"])
    assert (summary.ok, summary.failed, summary.resumed, summary.exit_code) == (6, 0, 0, 0)
    assert "1 file skipped: not an image (p2/notes.txt)" in messages
    assert leftovers(out) == [] and not (films / "stats.csv").exists()


def test_an_out_folder_inside_the_input_is_not_read_as_input(films, tmp_path):
    first = run_batch(ImageStatsJob(preview=True), films, films / "results", log=lambda _: None)
    again = run_batch(ImageStatsJob(preview=True), films, films / "results", log=lambda _: None)

    assert [o.name for o in again.outcomes] == [o.name for o in first.outcomes] and len(first.outcomes) == 6
    assert len(list((films / "results").glob("*.preview.png"))) == 6


def test_one_failing_case_does_not_stop_the_others(films, tmp_path):
    summary = run_batch(ImageStatsJob(fail_on="p2__film_png"), films, tmp_path / "out", log=lambda _: None)

    rows = {r["input"]: r for r in read_csv(tmp_path / "out" / "stats.csv")}
    assert rows["p2/film.png"]["status"] == "failed"
    assert rows["p2/film.png"]["warnings"] == "p2/film.png: refused on purpose (fail_on)."
    assert sum(r["status"] == "ok" for r in rows.values()) == 5
    assert (summary.failed, summary.exit_code) == (1, 1)
    assert not (tmp_path / "out" / "p2__film_png.stats.json").exists() and leftovers(tmp_path / "out") == []


def test_an_overlapping_job_analyses_in_a_second_thread_and_gives_the_same_table(films, tmp_path):
    plain = run_batch(ImageStatsJob(), films, tmp_path / "plain", log=lambda _: None)
    messages = []
    overlapped = run_batch(OverlappedStatsJob(), films, tmp_path / "overlapped", log=messages.append)

    assert read_csv(tmp_path / "overlapped" / "stats.csv") == read_csv(tmp_path / "plain" / "stats.csv")
    assert [o.name for o in overlapped.outcomes] == [o.name for o in plain.outcomes] and overlapped.ok == 6
    assert [m.split(":")[0] for m in messages if m.startswith("[")] == [f"[{i}/6] {o.label}" for i, o in
                                                                        enumerate(overlapped.outcomes, 1)]
    written = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((tmp_path / "overlapped").glob("*.stats.json"))]
    assert {w["writing_thread"] for w in written} == {"MainThread"}
    assert {w["analysis_thread"].startswith("orthoai-analysis") for w in written} == {True}
    assert {w["prepare_calls"] for w in written} == {written[0]["prepare_calls"]}  # prepared once for the run
    assert leftovers(tmp_path / "overlapped") == []


@pytest.mark.parametrize("failing", ["fail_on", "fail_writing_on"])
def test_an_overlapping_job_with_a_failing_analysis_or_writing_loses_only_that_case(films, tmp_path, failing):
    summary = run_batch(OverlappedStatsJob(**{failing: "p2__film_png"}), films, tmp_path / "out", log=lambda _: None)

    rows = {r["input"]: r for r in read_csv(tmp_path / "out" / "stats.csv")}
    assert rows["p2/film.png"]["status"] == "failed" and sum(r["status"] == "ok" for r in rows.values()) == 5
    assert "on purpose" in rows["p2/film.png"]["warnings"]
    assert (summary.failed, summary.exit_code) == (1, 1)
    assert not (tmp_path / "out" / "p2__film_png.stats.json").exists() and leftovers(tmp_path / "out") == []


def test_a_listed_input_that_is_missing_fails_alone(films, tmp_path):
    listing = tmp_path / "cases.list"
    listing.write_text(f"{films / 'top.mha'}\n# comment\n{films / 'gone.png'}\n")

    summary = run_batch(ImageStatsJob(), listing, tmp_path / "out", log=lambda _: None)

    assert [(o.status, o.label) for o in summary.outcomes] == [("ok", "top.mha"), ("failed", "gone.png")]
    assert "No such file or folder" in read_csv(tmp_path / "out" / "stats.csv")[1]["warnings"]


def test_out_in_the_input_folder_never_touches_an_input(tmp_path):
    folder = tmp_path / "films"
    for name in ("a.png", "b.png", "b_png.preview.png"):  # the last is an input named like b's preview
        write_image(folder / name, seed=len(name))
    before = hashes(folder)

    summary = run_batch(ImageStatsJob(preview=True), folder, folder, log=lambda _: None)

    assert {k: v for k, v in hashes(folder).items() if k in before} == before
    outcome = {o.name: o for o in summary.outcomes}
    # a film's picture no longer meets the film: cases in the output folder are named with their type
    assert not outcome["a_png"].failed and (folder / "a_png.preview.png").exists()
    assert outcome["b_png"].failed and "b_png.preview.png would replace an input file" in outcome["b_png"].message
    assert not (folder / "b_png.stats.json").exists()  # a refused case moves none of its files
    assert not outcome["b_png_preview"].failed and (folder / "b_png_preview.preview.png").exists()  # no clash: kept

    again = run_batch(ImageStatsJob(preview=True), folder, folder, log=lambda _: None)  # earlier outputs are not inputs
    assert [o.name for o in again.outcomes] == ["a_png", "b_png", "b_png_preview"]
    assert {k: v for k, v in hashes(folder).items() if k in before} == before and leftovers(folder) == []


@pytest.mark.parametrize("kind", ["existing file", "under a file", "csv is a folder", "cannot write"])
def test_a_wrong_out_is_one_line_before_any_work(films, tmp_path, kind):
    log = tmp_path / "calls.log"
    (tmp_path / "file.txt").write_text("x")
    out = {"existing file": tmp_path / "file.txt", "under a file": tmp_path / "file.txt" / "out",
           "csv is a folder": tmp_path / "out", "cannot write": Path("/proc/orthoai-batch-test")}[kind]
    if kind == "csv is a folder":
        (out / "stats.csv").mkdir(parents=True)

    with pytest.raises(UsageError) as caught:
        run_batch(ImageStatsJob(call_log=str(log)), films, out, log=lambda _: None)

    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"--out {out}")
    assert "give --out a folder you can write to" in message or "choose another --out" in message
    assert not log.exists() and exit_status(caught.value) == 2
    assert not any(p.suffix == ".json" for p in tmp_path.rglob("*"))


def test_a_missing_input_leaves_no_output_folder_behind(tmp_path):
    with pytest.raises(InputError, match="No such file or folder"):
        run_batch(ImageStatsJob(), tmp_path / "missing", tmp_path / "new" / "out", log=lambda _: None)
    assert not (tmp_path / "new").exists()


def test_a_folder_without_write_permission(films, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        probe = locked / "probe"
        probe.touch()  # root and some file systems ignore the mode: then this case cannot be shown here
        probe.unlink()
        pytest.skip("this user can write into a 0o500 folder (root); /proc covers an unwritable --out")
    except PermissionError:
        pass
    with pytest.raises(UsageError, match="cannot write there"):
        run_batch(ImageStatsJob(), films, locked / "out", log=lambda _: None)


def test_command_line_options_and_exit_status():
    parser = argparse.ArgumentParser()
    add_batch_arguments(parser)
    args = parser.parse_args(["in", "--out", "o", "--workers", "3", "--resume", "--anonymise-names"])
    assert batch_options(args) == {"source": Path("in"), "out_dir": Path("o"), "workers": 3, "scheduler": None,
                                   "resume": True, "anonymise_names": True}
    assert batch_options(parser.parse_args(["in", "--out", "o"]))["anonymise_names"] is False
    for wrong in (["in"], ["in", "--out", "o", "--workers", "0"], ["in", "--out", "o", "--workers", "2", "--scheduler", "x"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(wrong)
        assert caught.value.code == 2


def test_two_workers_give_the_same_table_and_load_once_per_worker(films, tmp_path):
    one = run_batch(ImageStatsJob(), films, tmp_path / "one", log=lambda _: None)
    two = run_batch(ImageStatsJob(), films, tmp_path / "two", workers=2, log=lambda _: None)

    assert (tmp_path / "one" / "stats.csv").read_bytes() == (tmp_path / "two" / "stats.csv").read_bytes()
    assert [o.name for o in one.outcomes] == [o.name for o in two.outcomes]
    stats = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "two").glob("*.stats.json")]
    pids = {s["pid"] for s in stats}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert {s["prepare_calls"] for s in stats} == {1}  # each worker prepared once, whatever it ran
    assert leftovers(tmp_path / "two") == []


def test_resume_skips_complete_cases_and_redoes_the_rest(films, tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    job = ImageStatsJob(call_log=str(log))
    first = run_batch(job, films, out, log=lambda _: None)
    table = (out / "stats.csv").read_bytes()
    times = {p.name: p.stat().st_mtime_ns for p in out.glob("*.stats.json")}
    log.unlink()

    again = run_batch(job, films, out, resume=True, log=lambda _: None)
    assert calls(log) == [] and again.resumed == 6 and again.exit_code == 0
    assert (out / "stats.csv").read_bytes() == table  # complete, in order, from the records
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.stats.json")} == times

    (out / "top.stats.json").unlink()
    (out / DONE / "z.json").unlink()
    with open(out / "p2__film_nrrd.stats.json", "a") as stream:
        stream.write(" ")  # changed size: not the file the record describes
    os.utime(films / "p1" / "s1" / "film.png", ns=(1, 1))  # an input changed since
    redone = run_batch(job, films, out, resume=True, log=lambda _: None)
    assert calls(log) == ["p1__s1__film", "p2__film_nrrd", "top", "z"] and redone.resumed == 2
    assert (out / "stats.csv").read_bytes() == table and first.exit_code == 0

    log.unlink()
    run_batch(job, films, out, log=lambda _: None)  # without --resume everything runs again
    assert len(calls(log)) == 6 and leftovers(out) == []


def test_a_run_killed_mid_way_loses_nothing(films, tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    options = dict(crash_on="p2__film_png", crash_once_marker=str(tmp_path / "crashed"), call_log=str(log))
    script = ("from Testing.batch_jobs import ImageStatsJob; from OrthoAILib.apps.batch import run_batch; "
              f"run_batch(ImageStatsJob(**{options!r}), {str(films)!r}, {str(out)!r})")
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 1 and (out / STAGING / "p2__film_png").is_dir()  # the process died mid-case
    assert sorted(p.name for p in out.glob("*.stats.json")) == ["p1__s1__film.stats.json", "p1__s2__film.stats.json",
                                                                  "p2__film_nrrd.stats.json"]
    log.unlink()
    summary = run_batch(ImageStatsJob(**options), films, out, resume=True, log=lambda _: None)
    assert summary.resumed == 3 and calls(log) == ["p2__film_png", "top", "z"] and summary.exit_code == 0
    assert len(read_csv(out / "stats.csv")) == 6 and leftovers(out) == []


def test_a_worker_that_dies_once_is_retried_and_one_that_always_dies_fails_alone(films, tmp_path):
    once = run_batch(ImageStatsJob(crash_on="top", crash_once_marker=str(tmp_path / "crashed")), films,
                     tmp_path / "once", workers=2, log=lambda _: None)
    assert (tmp_path / "crashed").exists() and once.exit_code == 0 and once.ok == 6

    always = run_batch(ImageStatsJob(crash_on="top"), films, tmp_path / "always", workers=2, log=lambda _: None)
    failed = [o for o in always.outcomes if o.failed]
    assert [o.name for o in failed] == ["top"] and "the worker running it died twice" in failed[0].message
    assert always.ok == 5 and always.exit_code == 1
    assert not (tmp_path / "always" / "top.stats.json").exists()
    assert leftovers(tmp_path / "once") == leftovers(tmp_path / "always") == []


def test_worker_processes_that_cannot_start_stop_the_run_with_one_message(films, tmp_path, monkeypatch):
    """A job whose module cannot be imported in a fresh process (as in an environment that lacks a
    package): no case is blamed for it; the run stops and says how to see the cause."""
    (tmp_path / "parent_only_job.py").write_text(
        f"import os\nif os.getpid() != {os.getpid()}:\n"
        "    raise ImportError('only importable in the process that wrote it')\n"
        "from Testing.batch_jobs import ImageStatsJob\n"
        "class ParentOnlyJob(ImageStatsJob):\n"
        "    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from parent_only_job import ParentOnlyJob

    with pytest.raises(OrthoAIError, match="Worker processes do not start .*run with --workers 1"):
        run_batch(ParentOnlyJob(), films, tmp_path / "out", workers=2, log=lambda _: None)
    rows = read_csv(tmp_path / "out" / "stats.csv")
    assert len(rows) == 6 and {r["warnings"] for r in rows} == {"not run: the batch stopped before this case"}
    assert leftovers(tmp_path / "out") == []


def test_dicom_series_are_volumes_for_a_3d_job(tmp_path):
    folder = tmp_path / "export" / "patient" / "study"
    write_ct_series(folder, 5, prefix="A", seed=1)
    write_ct_series(folder, 4, prefix="B", seed=2)

    volumes = run_batch(VolumeStatsJob(), tmp_path / "export", tmp_path / "volumes", log=lambda _: None)
    slices = run_batch(ImageStatsJob(), tmp_path / "export", tmp_path / "slices", log=lambda _: None)

    assert [r["shape"] for r in read_csv(tmp_path / "volumes" / "stats.csv")] == ["5x16x20", "4x16x20"]
    assert len(slices.outcomes) == 9 and slices.exit_code == volumes.exit_code == 0


def _files_naming(folder: Path, words) -> list[str]:
    """Files under ``folder`` whose name or content holds any of ``words``."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and any(
        w in p.relative_to(folder).as_posix() or w.encode() in p.read_bytes() for w in words))


def test_anonymised_names_reach_only_the_private_mapping(tmp_path):
    source = tmp_path / "in"
    for name in ("DOE_JANE_1950/film.png", "SMITH_JOHN/hip.nrrd", "ROE_RICHARD.mha"):
        write_image(source / name, seed=len(name))
    (source / "BROWN_ALICE.png").write_bytes(b"not a png")  # fails in the job: its message must name no one
    listing = tmp_path / "cases.list"
    listing.write_text(f"{source / 'ROE_RICHARD.mha'}\n{source / 'GONE_GARY.png'}\n")
    out = tmp_path / "out"
    messages = []

    summary = run_batch(ImageStatsJob(preview=True), source, out, anonymise_names=True, log=messages.append)

    assert [o.name for o in summary.outcomes] == ["case-0001", "case-0002", "case-0003", "case-0004"]
    rows = read_csv(out / "stats.csv")
    assert [r["input"] for r in rows] == ["case-0001", "case-0002", "case-0003", "case-0004"]
    assert sorted(p.name for p in out.glob("*.stats.json")) == ["case-0002.stats.json", "case-0003.stats.json",
                                                                 "case-0004.stats.json"]  # case-0001 failed
    assert rows[0]["status"] == "failed" and "case-0001" in rows[0]["warnings"]
    mapping = out / "name_mapping.csv"
    assert (mapping.stat().st_mode & 0o777) == 0o600
    assert read_csv(mapping)[0] == {"case": "case-0001", "input": "BROWN_ALICE.png",
                                    "path": str((source / "BROWN_ALICE.png").resolve())}
    people = ["DOE", "JANE", "SMITH", "ROE", "BROWN", "ALICE", "RICHARD"]
    assert _files_naming(out, people) == ["name_mapping.csv"]
    assert not any(w in line for line in messages for w in people), messages

    again = run_batch(ImageStatsJob(preview=True), listing, out, anonymise_names=True, resume=True, log=messages.append)
    assert [(o.name, o.status) for o in again.outcomes] == [("case-0003", "ok"), ("case-0005", "failed")]
    assert again.resumed == 1  # ROE_RICHARD.mha keeps its name (and its outputs) from the first run
    assert [r["input"] for r in read_csv(out / "stats.csv")] == ["case-0003", "case-0005"]
    assert "GONE" not in read_csv(out / "stats.csv")[1]["warnings"] and "case-0005" in read_csv(out / "stats.csv")[1]["warnings"]
    assert len(read_csv(mapping)) == 5 and _files_naming(out, people + ["GONE", "GARY"]) == ["name_mapping.csv"]
    assert leftovers(out) == [] and not (out / STAGING).exists()


def test_anonymised_names_with_two_workers(films, tmp_path):
    summary = run_batch(ImageStatsJob(), films, tmp_path / "out", workers=2, anonymise_names=True, log=lambda _: None)
    assert summary.exit_code == 0 and [o.name for o in summary.outcomes] == [f"case-{i:04d}" for i in range(1, 7)]
    assert _files_naming(tmp_path / "out", ["film", "top", "p1", "p2"]) == ["name_mapping.csv"]


def test_a_mapping_name_taken_by_a_user_file_stops_before_any_work(films, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "name_mapping.csv").write_text("my own notes\n")
    with pytest.raises(UsageError, match="name_mapping.csv was not written by --anonymise-names"):
        run_batch(ImageStatsJob(), films, out, anonymise_names=True, log=lambda _: None)
    assert (out / "name_mapping.csv").read_text() == "my own notes\n" and not (out / "stats.csv").exists()


REAL_SERIES = SHARED_DATA / "ct" / "totalsegmentator" / "example_ct_dicom"


@pytest.mark.skipif(not REAL_SERIES.is_dir(), reason=f"no real DICOM series at {REAL_SERIES}")
def test_a_real_ct_series_is_read_as_one_volume(tmp_path):
    summary = run_batch(VolumeStatsJob(), REAL_SERIES, tmp_path / "out", log=lambda _: None)

    assert [(o.name, o.status) for o in summary.outcomes] == [("example_ct_dicom", "ok")]
    assert read_csv(tmp_path / "out" / "stats.csv")[0]["shape"] == "20x512x512"
