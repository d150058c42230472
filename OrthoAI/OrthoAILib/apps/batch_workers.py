"""Running cases in parallel: spawned worker processes on this machine, or a Dask cluster.

A worker that dies takes only its case with it: that case is retried once, then
recorded as failed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections import deque
from pathlib import Path
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from ..errors import OrthoAIError
from .batch_case import STAGING, Report, UsageError, close_prepared, process_case
from .jobs import BatchJob, CaseInput, CaseOutcome, outcome_for_failure

DIED_TWICE = "the worker running it died twice"


# --- local worker processes -------------------------------------------------------------------

class _Task(NamedTuple):
    index: int
    case: CaseInput
    deaths: int = 0  # of worker processes while running it


def _worker_main(connection, job: BatchJob, out_dir: str) -> None:
    """A worker process: cases one at a time from the runner until it says stop."""
    try:
        connection.send(("ready", os.getpid()))  # the job unpickled: its modules import here
        while (task := connection.recv()) is not None:
            index, case, protected = task
            outcome = process_case(job, case, Path(out_dir), protected)
            try:
                connection.send((index, outcome))
            except Exception as error:  # noqa: BLE001  (an outcome that does not pickle)
                connection.send((index, outcome_for_failure(job, case, f"unexpected {type(error).__name__}: {error}")))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        close_prepared()


def run_in_processes(job: BatchJob, todo: list[tuple[int, CaseInput]], out_dir: Path, workers: int,
                   protected: Callable[[CaseInput], frozenset], report: Report) -> None:
    """Spawned processes (fork is unsafe with torch), each given one case at a time: a process
    that dies is known to have died on its own case, so only that case is retried."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    pending = deque(_Task(index, case) for index, case in todo)
    pool: list[dict] = []  # each: process, connection, task (a _Task or None), ready
    startup_failures = 0
    try:
        while pending or any(w["task"] for w in pool):
            while len(pool) < min(workers, len(pending) + sum(bool(w["task"]) for w in pool)):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker_main, args=(theirs, job, str(out_dir)), daemon=True)
                process.start()
                theirs.close()
                pool.append({"process": process, "connection": ours, "task": None, "ready": False})
            for w in pool:
                if w["task"] is None and pending:
                    w["task"] = task = pending.popleft()
                    w["connection"].send((task.index, task.case, protected(task.case)))
            wait([w["connection"] for w in pool] + [w["process"].sentinel for w in pool])
            for w in list(pool):
                with contextlib.suppress(EOFError, OSError):  # a closed pipe: see below whether it died
                    if w["connection"].poll():
                        message, w["ready"] = w["connection"].recv(), True
                        if message[0] != "ready":
                            report(*message)
                            w["task"] = None
                        continue
                if w["process"].is_alive():
                    continue
                pool.remove(w)
                w["process"].join()
                task, code = w["task"], w["process"].exitcode
                if not w["ready"]:  # it never started: not the case's fault
                    startup_failures += 1
                    if startup_failures >= 3:
                        raise OrthoAIError(f"Worker processes do not start (exit code {code}); run with --workers 1 to see why.")
                    pending.extendleft([task] if task else [])
                elif task and task.deaths >= 1:
                    report(task.index, outcome_for_failure(job, task.case, f"{DIED_TWICE} (exit code {code})"))
                elif task:
                    pending.appendleft(task._replace(deaths=task.deaths + 1))
    finally:  # stop: idle workers at once, busy ones after their case (or now, when interrupted)
        for w in pool:
            with contextlib.suppress(OSError):
                w["connection"].send(None)
        for w in pool:
            w["process"].join(timeout=10)
            w["process"].terminate()
            w["process"].join()


# --- a Dask distributed cluster ---------------------------------------------------------------

def _process_on_cluster(job: BatchJob, case: CaseInput, out_dir: str, protected: frozenset, token: str) -> CaseOutcome:
    """A case on a Dask worker. Its starts are counted in a file beside the staging folders, since
    the scheduler itself may rerun a task whose worker died: the third start records the failure."""
    marker = Path(out_dir) / STAGING / f"{case.name}.{token}.attempts"
    marker.parent.mkdir(parents=True, exist_ok=True)
    if marker.exists() and len(marker.read_text(encoding="utf-8")) >= 2:
        return outcome_for_failure(job, case, DIED_TWICE)
    with open(marker, "a") as stream:
        stream.write("x")
    outcome = process_case(job, case, Path(out_dir), protected)
    marker.unlink(missing_ok=True)
    return outcome


def connect(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install 'dask[distributed]'.") from None
    try:  # checked first: a Client made from a bad address lingers on exit, and retries a refused one
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname or not parts.port:
            raise ValueError("expected tcp://HOST:PORT")
        socket.create_connection((parts.hostname, parts.port), timeout=20).close()
        return Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise UsageError(f"--scheduler {address}: cannot connect ({' '.join(str(error).split()) or type(error).__name__}); "
                         "check the address, or start one with `dask scheduler`.") from None


def run_on_cluster(job: BatchJob, todo: list[tuple[int, CaseInput]], out_dir: Path, client,
                 protected: Callable[[CaseInput], frozenset], report: Report) -> None:
    """Every case one task; a task whose worker died is resubmitted (its attempt file decides)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    token, futures = uuid.uuid4().hex[:12], {}

    def submit(index: int, case: CaseInput, attempt: int):
        future = client.submit(_process_on_cluster, job, case, str(out_dir), protected(case), token,
                               key=f"orthoai-{case.name}-{token}-{attempt}", pure=False)
        futures[future.key] = (index, case, attempt)
        return future

    queue = as_completed([submit(index, case, 0) for index, case in todo], loop=client.loop)
    for future in queue:
        index, case, attempt = futures.pop(future.key)
        try:
            report(index, future.result())
        except KilledWorker:  # resubmitted; more than 3 times only if it never even started
            if attempt < 3:
                queue.add(submit(index, case, attempt + 1))
            else:
                report(index, outcome_for_failure(job, case, DIED_TWICE))
        except Exception as error:  # noqa: BLE001  (e.g. the job cannot be imported on the worker)
            report(index, outcome_for_failure(job, case, " ".join(
                f"unexpected {type(error).__name__} on the cluster: {error}".split())))
        future.release()
    with contextlib.suppress(Exception):  # workers gone: nothing to release
        client.run(close_prepared, job)


# --- the run ----------------------------------------------------------------------------------

