"""The batch runner on a real Dask distributed cluster (``LocalCluster`` on 127.0.0.1, two worker
processes with one thread each), against the same real job and files as the local runs."""

from __future__ import annotations

import json
import time

import pytest

from OrthoAILib.apps.batch import UsageError, exit_status, run_batch
from Testing.batch_jobs import ImageStatsJob, calls, leftovers, read_csv, write_films
from Testing.conftest import REPO_ROOT

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")


def start_cluster(**config):
    """A real cluster; its worker processes import ``Testing.batch_jobs`` from the repository root,
    as workers of a real cluster import the pipeline's job from the installed package."""
    import dask

    with dask.config.set(config):
        return distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                        dashboard_address=None, env={"PYTHONPATH": str(REPO_ROOT)})


@pytest.fixture
def films(tmp_path):
    return write_films(tmp_path / "in")


@pytest.fixture(scope="module")
def cluster():
    with start_cluster() as running:
        yield running


def stats_without_pid(folder):
    """The results, without the facts about the process and threads that computed them."""
    facts = ("pid", "prepare_calls", "analysis_thread", "writing_thread")
    return {p.name: {k: v for k, v in json.loads(p.read_text(encoding="utf-8")).items() if k not in facts}
            for p in folder.glob("*.stats.json")}


def test_the_cluster_gives_the_same_results_as_a_local_run(cluster, films, tmp_path):
    local = run_batch(ImageStatsJob(), films, tmp_path / "local", log=lambda _: None)
    remote = run_batch(ImageStatsJob(), films, tmp_path / "cluster", scheduler=cluster.scheduler_address, log=lambda _: None)

    assert (tmp_path / "local" / "stats.csv").read_bytes() == (tmp_path / "cluster" / "stats.csv").read_bytes()
    assert stats_without_pid(tmp_path / "local") == stats_without_pid(tmp_path / "cluster")
    assert [(o.name, o.status, o.files) for o in local.outcomes] == [(o.name, o.status, o.files) for o in remote.outcomes]
    assert remote.exit_code == 0 and leftovers(tmp_path / "cluster") == []


def test_resume_on_the_cluster_skips_what_a_local_run_completed(cluster, films, tmp_path):
    log = tmp_path / "calls.log"
    job = ImageStatsJob(call_log=str(log))
    run_batch(job, films, tmp_path / "out", log=lambda _: None)
    (tmp_path / "out" / "top.stats.json").unlink()
    log.unlink()

    again = run_batch(job, films, tmp_path / "out", scheduler=cluster.scheduler_address, resume=True, log=lambda _: None)

    assert calls(log) == ["top"] and again.resumed == 5 and len(read_csv(tmp_path / "out" / "stats.csv")) == 6


def test_a_case_whose_worker_dies_once_is_retried(cluster, films, tmp_path):
    marker = tmp_path / "crashed"
    summary = run_batch(ImageStatsJob(crash_on="p2__film_png", crash_once_marker=str(marker)), films, tmp_path / "out",
                        scheduler=cluster.scheduler_address, log=lambda _: None)

    assert marker.exists() and summary.exit_code == 0 and summary.ok == 6
    assert (tmp_path / "out" / "p2__film_png.stats.json").exists() and leftovers(tmp_path / "out") == []


@pytest.mark.filterwarnings("ignore:Port .* is already in use")
@pytest.mark.parametrize("allowed_failures", [None, 0])
def test_a_case_whose_worker_always_dies_fails_alone(cluster, films, tmp_path, allowed_failures):
    """With the scheduler's own retries (default) and without them (it reports ``KilledWorker`` at once)."""
    if allowed_failures is None:
        summary = run_batch(ImageStatsJob(crash_on="top"), films, tmp_path / "out", scheduler=cluster.scheduler_address,
                            log=lambda _: None)
    else:
        with start_cluster(**{"distributed.scheduler.allowed-failures": allowed_failures}) as strict:
            summary = run_batch(ImageStatsJob(crash_on="top"), films, tmp_path / "out", scheduler=strict.scheduler_address,
                                log=lambda _: None)

    rows = {r["input"]: r for r in read_csv(tmp_path / "out" / "stats.csv")}
    assert rows["top.mha"]["status"] == "failed" and rows["top.mha"]["warnings"] == "the worker running it died twice"
    assert [o.name for o in summary.outcomes if o.failed] == ["top"] and summary.ok == 5
    assert not (tmp_path / "out" / "top.stats.json").exists() and leftovers(tmp_path / "out") == []


def test_an_unreachable_scheduler_is_one_line_before_any_work(films, tmp_path):
    started = time.perf_counter()
    with pytest.raises(UsageError) as caught:
        run_batch(ImageStatsJob(), films, tmp_path / "out", scheduler="tcp://127.0.0.1:9", log=lambda _: None)

    assert "\n" not in str(caught.value) and str(caught.value).startswith("--scheduler tcp://127.0.0.1:9: cannot connect")
    assert exit_status(caught.value) == 2 and not (tmp_path / "out").exists()
    assert time.perf_counter() - started < 60
