"""The batch runner every pipeline uses: ``orthoai <pipeline> INPUT --out DIR``.

It finds the cases (``io.discovery``), checks the output folder before any work,
runs each case here, in worker processes (``--workers N``) or on a Dask cluster
(``--scheduler ADDRESS``), and writes one CSV in input order. Its promises:

* one bad case never stops a batch: every exception becomes a failed outcome;
* nothing half-written: a case writes into ``.orthoai-staging/<name>/``, and its
  files are moved into place (``os.replace``) only once it is complete;
* inputs are never overwritten: a case whose output would replace one fails;
* ``--resume``: a completion record (``.orthoai-done/<name>.json``), written last,
  holds the files' sizes and a fingerprint of the job's options and the inputs;
  a case is skipped only while all of that still holds;
* a worker that dies takes only its case with it: that case is retried once,
  then recorded as failed; models are loaded once per process, not per case.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Optional
from urllib.parse import urlsplit

from ..errors import OrthoAIError
from ..io.discovery import find_cases
from ..io.reports import fingerprint, read_record, write_csv, write_record
from .jobs import BatchJob, CaseInput, CaseOutcome, outcome_for_failure

STAGING = ".orthoai-staging"
DONE = ".orthoai-done"
DIED_TWICE = "the worker running it died twice"
Report = Callable[[int, CaseOutcome], None]


class UsageError(OrthoAIError):
    """The command was used wrongly (``--out``, ``--workers``, ``--scheduler``): exit status 2."""


@dataclass
class BatchSummary:
    outcomes: list[CaseOutcome]  # in input order
    csv_path: Path
    resumed: int = 0  # cases an earlier run completed (``--resume``)
    skipped_files: tuple = ()  # ``io.discovery.Skipped``: files that are not inputs
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(outcome.failed for outcome in self.outcomes)

    @property
    def ok(self) -> int:
        return len(self.outcomes) - self.failed - self.resumed

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


# --- the command line -------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """``INPUT --out DIR [--workers N | --scheduler ADDRESS] [--resume]`` for a pipeline's subcommand."""
    parser.add_argument("input", type=Path, metavar="INPUT",
                        help="an image, a folder (searched recursively) or a .txt/.list file with one input per line")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if missing)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="processes on this machine, each loading the models once (default 1)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask distributed scheduler, e.g. tcp://host:8786 "
                       "(its workers must see INPUT and --out at the same paths)")
    parser.add_argument("--resume", action="store_true", help="skip cases whose outputs an earlier run completed")


def batch_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`run_batch` from parsed arguments."""
    return {"source": args.input, "out_dir": args.out, "workers": args.workers,
            "scheduler": args.scheduler, "resume": args.resume}


def exit_status(error: BaseException) -> int:
    """2 for wrong usage, 1 for any other error a user can act on."""
    return 2 if isinstance(error, UsageError) else 1


# --- the output folder ------------------------------------------------------------------------

def check_output_folder(out_dir: Path, csv_name: str, inputs: Iterable[Path] = ()) -> list[Path]:
    """Create ``out_dir`` and prove it writable, or raise ``UsageError`` (one line) having created nothing.

    Returns the folders it created (deepest first), for the caller to remove if the run stops before
    any work. The probe is written inside ``out_dir``, never beside it (that may be an input folder).
    """
    out_dir = Path(out_dir)
    hint = "give --out a folder you can write to (it is created if missing)"
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a folder: {hint}.")
    created, existing = [], out_dir
    while not existing.exists() and existing.parent != existing:
        created, existing = created + [existing], existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out_dir}: {existing} is a file, so no folder can be made under it: {hint}.")
    try:  # a real file, as permission bits do not tell (root, read-only mounts, /proc)
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / f".orthoai-write-check-{uuid.uuid4().hex[:8]}", "xb") as probe:
            os.unlink(probe.name)
    except OSError as error:
        _remove_folders(created)
        raise UsageError(f"--out {out_dir}: cannot write there ({error.strerror or error}): {hint}.") from None
    for name in (csv_name, STAGING, DONE):
        taken = out_dir / name
        if taken.exists() and taken.is_dir() != (name != csv_name):
            _remove_folders(created)
            raise UsageError(f"--out {out_dir}: {taken} is {'a folder' if taken.is_dir() else 'a file'}, in the way "
                             "of the batch's own; move it or choose another --out.")
    if any(_norm(path) == _norm(out_dir / csv_name) for path in inputs):
        raise UsageError(f"--out {out_dir}: the table {csv_name} would overwrite an input; choose another --out.")
    return created


def _remove_folders(folders: Iterable[Path]) -> None:
    for folder in folders:  # deepest first; only while still empty
        with contextlib.suppress(OSError):
            folder.rmdir()


def _norm(path) -> str:
    """A path as the file system resolves its folder (links followed), the name kept."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _own_files(out_dir: Path, csv_name: str, source: Path) -> list[Path]:
    """What discovery must not take for inputs: the output folder inside INPUT, the table, earlier outputs."""
    own = [out_dir / csv_name] + ([out_dir] if _norm(out_dir) != _norm(source) else [])
    for path in sorted((out_dir / DONE).glob("*.json")) if (out_dir / DONE).is_dir() else ():
        own += [out_dir / name for name in (read_record(path, out_dir) or {"files": {}})["files"]]
    return own


def _protection(out_dir: Path, cases: list[CaseInput]) -> Callable[[CaseInput], frozenset]:
    """Per case, the inputs its outputs could replace: those in ``out_dir`` named like the case."""
    root = os.path.realpath(out_dir)
    inside = sorted(os.path.relpath(n, root) for c in cases for n in map(_norm, c.paths) if n.startswith(root + os.sep))

    def protected(case: CaseInput) -> frozenset:
        start, stop = bisect_left(inside, case.name), bisect_left(inside, case.name + "\U0010ffff")
        return frozenset(os.path.join(root, name) for name in inside[start:stop])
    return protected


# --- one case, wherever it runs ---------------------------------------------------------------

_PREPARED: dict[str, object] = {}  # job's value -> the prepared job, or the error its prepare() raised
_PREPARE_LOCK = threading.Lock()  # Dask workers may run cases in threads


def _job_key(job: BatchJob) -> str:
    return f"{type(job).__module__}.{type(job).__qualname__}:{job!r}"


def _prepared(job: BatchJob) -> BatchJob:
    """The job prepared in this process (one at a time: another job's models are released first)."""
    with _PREPARE_LOCK:
        if _job_key(job) not in _PREPARED:
            close_prepared()
            try:
                job.prepare()
                _PREPARED[_job_key(job)] = job
            except Exception as error:  # noqa: BLE001  (every case of this process fails with it)
                _PREPARED[_job_key(job)] = error
        held = _PREPARED[_job_key(job)]
    if isinstance(held, BaseException):
        raise held
    return held  # type: ignore[return-value]


def close_prepared(job: Optional[BatchJob] = None) -> None:
    """Release the prepared job of this process (only if it is ``job``, when given)."""
    for key, held in list(_PREPARED.items()):
        if job is None or key == _job_key(job):
            del _PREPARED[key]
            with contextlib.suppress(Exception):  # releasing must not fail a run
                held.close() if isinstance(held, BatchJob) else None


def _record(out_dir: Path, case: CaseInput) -> Path:
    return Path(out_dir) / DONE / f"{case.name}.json"


def _stamp(job: BatchJob, case: CaseInput) -> str:
    return fingerprint(f"{_job_key(job)} {case.name}", case.paths)


def completed_outcome(job: BatchJob, case: CaseInput, out_dir: Path) -> Optional[CaseOutcome]:
    """The outcome recorded by an earlier run, if its record, fingerprint and files all still hold."""
    try:
        record = read_record(_record(out_dir, case), out_dir, _stamp(job, case))
        return None if record is None else CaseOutcome(
            case.name, case.label, record["status"], tuple(record["rows"]), tuple(record["files"]),
            "complete from an earlier run", tuple(record["warnings"]))
    except (OSError, KeyError, TypeError):
        return None


def _publish(case: CaseInput, staging: Path, out_dir: Path, listed: Iterable[str], protected: frozenset) -> tuple[str, ...]:
    """Move the staged files into ``out_dir``, all checked first, so that a refused case moves nothing."""
    staged = sorted(path.relative_to(staging).as_posix() for path in staging.rglob("*") if path.is_file())
    fault = "(a fault of the pipeline)"
    if set(listed) - set(staged):
        raise OrthoAIError(f"{case.label}: the pipeline did not write {', '.join(sorted(set(listed) - set(staged)))} {fault}.")
    untouchable = protected | {_norm(path) for path in case.paths}
    for name in staged:
        if not name.startswith(case.name):
            raise OrthoAIError(f"{case.label}: output {name} does not start with the case name {case.name} {fault}.")
        if _norm(out_dir / name) in untouchable:
            raise OrthoAIError(f"{case.label}: its output {name} would replace an input file; "
                               "inputs are never overwritten: choose another --out.")
    for name in staged:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, out_dir / name)
    return tuple(staged)


def process_case(job: BatchJob, case: CaseInput, out_dir: Path, protected: frozenset = frozenset(),
                 keep_result: bool = False) -> CaseOutcome:
    """Run one case and publish its files; a failing case returns its outcome, it never raises."""
    started, out_dir = time.perf_counter(), Path(out_dir)
    staging = out_dir / STAGING / case.name
    try:
        worker, stamp = _prepared(job), _stamp(job, case)
        _record(out_dir, case).unlink(missing_ok=True)  # a case being redone is not complete
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
        staging.mkdir(parents=True)
        outcome = worker.process(case, staging)
        files = () if outcome.failed else _publish(case, staging, out_dir, outcome.files, protected)
        outcome = replace(outcome, files=files, seconds=time.perf_counter() - started,
                          result=outcome.result if keep_result else None)
        if not outcome.failed:
            write_record(_record(out_dir, case), stamp, out_dir, files, label=case.label, status=outcome.status,
                         warnings=list(outcome.warnings), rows=list(outcome.rows))
        return outcome
    except OrthoAIError as error:
        message = " ".join(str(error).split())
    except Exception as error:  # noqa: BLE001  (one bad case never stops a batch)
        message = " ".join(f"unexpected {type(error).__name__}: {error}".split())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outcome_for_failure(job, case, message, time.perf_counter() - started)


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


def _run_processes(job: BatchJob, todo: list[tuple[int, CaseInput]], out_dir: Path, workers: int,
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


def _connect(address: str):
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


def _run_cluster(job: BatchJob, todo: list[tuple[int, CaseInput]], out_dir: Path, client,
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

def run_batch(job: BatchJob, source: Path, out_dir: Path, *, workers: int = 1, scheduler: Optional[str] = None,
              resume: bool = False, log: Callable[[str], None] = print, keep_results: bool = False) -> BatchSummary:
    """Run ``job`` on every case of ``source`` into ``out_dir``; the CSV is written even when interrupted.

    ``keep_results`` keeps each case's result object on its outcome (``workers=1`` only: other
    processes do not send results back, so memory stays flat over a batch).
    """
    started, source, out_dir = time.perf_counter(), Path(source), Path(out_dir)
    if workers < 1 or (scheduler and workers > 1):
        raise UsageError(f"--workers {workers}: give 1 or more, and not with --scheduler (the cluster has its own).")
    job.validate()
    created = check_output_folder(out_dir, job.csv_name, [source])
    try:
        found = find_cases(source, suffixes=job.suffixes, volumetric=job.volumetric,
                           exclude=_own_files(out_dir, job.csv_name, source))
        cases = [CaseInput(case.name, case.paths, case.label) for case in found.cases]
        check_output_folder(out_dir, job.csv_name, [path for case in cases for path in case.paths])
        client = _connect(scheduler) if scheduler else None
    except BaseException:  # stopped before any work: leave no empty output folder behind
        _remove_folders(created)
        raise
    if found.skipped:
        log(found.skipped_summary())
    outcomes: list[Optional[CaseOutcome]] = [None] * len(cases)
    reported = [0]

    def report(index: int, outcome: CaseOutcome) -> None:
        outcomes[index], reported[0] = outcome, reported[0] + 1
        detail = f": {outcome.message}" if outcome.message else ""
        log(f"[{reported[0]}/{len(cases) - resumed}] {outcome.label}: {outcome.status}{detail}")
        for warning in outcome.warnings:
            log(f"{outcome.label}: warning: {warning}")

    for index, case in enumerate(cases):
        if resume and not found.cases[index].error:
            outcomes[index] = completed_outcome(job, case, out_dir)
    resumed = sum(outcome is not None for outcome in outcomes)
    if resumed:
        log(f"{resumed} of {len(cases)} cases complete from an earlier run: skipped (--resume)")
    for index, case in enumerate(cases):
        if found.cases[index].error:
            report(index, outcome_for_failure(job, case, found.cases[index].error))
    todo = [(index, case) for index, case in enumerate(cases) if outcomes[index] is None]
    protected = _protection(out_dir, cases)
    try:
        if client is not None:
            _run_cluster(job, todo, out_dir, client, protected, report)
        elif workers > 1 and len(todo) > 1:
            _run_processes(job, todo, out_dir, workers, protected, report)
        else:
            try:
                for index, case in todo:
                    report(index, process_case(job, case, out_dir, protected(case), keep_results))
            finally:
                close_prepared()
    finally:
        if client is not None:
            client.close()
        final = [o or outcome_for_failure(job, c, "not run: the batch stopped before this case") for o, c in zip(outcomes, cases)]
        csv_path = write_csv(out_dir / job.csv_name, [row for outcome in final for row in outcome.rows], job.csv_columns)
        shutil.rmtree(out_dir / STAGING, ignore_errors=True)
    return BatchSummary(final, csv_path, resumed, found.skipped, time.perf_counter() - started)
