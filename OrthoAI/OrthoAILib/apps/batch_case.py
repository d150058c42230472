"""One case of a batch, wherever it runs (this process, a worker process, a Dask worker).

The job is prepared once per process (its models load once); the case writes into
``.orthoai-staging/<name>/`` and its files are moved into place only when it is
complete and none would replace an input; a completion record, written last, lets
``--resume`` skip it while its files, options and inputs are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ..errors import OrthoAIError
from ..io.reports import fingerprint, read_record, write_record
from .jobs import BatchJob, CaseInput, CaseOutcome, outcome_for_failure

STAGING = ".orthoai-staging"
DONE = ".orthoai-done"
Report = Callable[[int, CaseOutcome], None]


def _norm(path) -> str:
    """A path as the file system resolves its folder (links followed), the name kept."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


class UsageError(OrthoAIError):
    """The command was used wrongly (``--out``, ``--workers``, ``--scheduler``): exit status 2."""


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


@dataclass(frozen=True)
class Analysed:
    """A case read and analysed (``BatchJob.analyse``), its files not yet written; or why not."""

    value: Any = None
    error: str = ""
    seconds: float = 0.0


def _failure_message(error: BaseException) -> str:
    if isinstance(error, OrthoAIError):
        return " ".join(str(error).split())
    return " ".join(f"unexpected {type(error).__name__}: {error}".split())


def analyse_case(job: BatchJob, case: CaseInput) -> Analysed:
    """The analysis of one case (jobs that overlap); a failure is returned, never raised."""
    started = time.perf_counter()
    try:
        return Analysed(_prepared(job).analyse(case), seconds=time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001  (one bad case never stops a batch)
        return Analysed(error=_failure_message(error), seconds=time.perf_counter() - started)


def process_case(job: BatchJob, case: CaseInput, out_dir: Path, protected: frozenset = frozenset(),
                 keep_result: bool = False, analysed: Optional[Analysed] = None) -> CaseOutcome:
    """Run one case and publish its files; a failing case returns its outcome, it never raises.
    ``analysed``: the case already analysed (:func:`analyse_case`): only its files are written here.
    The outcome's seconds are the case's own (analysis and writing), not the time it waited."""
    started, out_dir = time.perf_counter() - (analysed.seconds if analysed else 0.0), Path(out_dir)
    staging = out_dir / STAGING / case.name
    try:
        worker, stamp = _prepared(job), _stamp(job, case)
        _record(out_dir, case).unlink(missing_ok=True)  # a case being redone is not complete
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
        if analysed is not None and analysed.error:
            return outcome_for_failure(job, case, analysed.error, time.perf_counter() - started)
        staging.mkdir(parents=True)
        outcome = (worker.process(case, staging) if analysed is None
                   else worker.write(case, analysed.value, staging))
        files = () if outcome.failed else _publish(case, staging, out_dir, outcome.files, protected)
        outcome = replace(outcome, files=files, seconds=time.perf_counter() - started,
                          result=outcome.result if keep_result else None)
        if not outcome.failed:
            write_record(_record(out_dir, case), stamp, out_dir, files, label=case.label, status=outcome.status,
                         warnings=list(outcome.warnings), rows=list(outcome.rows))
        return outcome
    except Exception as error:  # noqa: BLE001  (one bad case never stops a batch)
        message = _failure_message(error)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outcome_for_failure(job, case, message, time.perf_counter() - started)


def run_here(job: BatchJob, todo: list[tuple[int, CaseInput]], out_dir: Path,
             protected: Callable[[CaseInput], frozenset], report: Report, keep_results: bool = False) -> None:
    """The cases one after the other in this process. A job that overlaps (``overlaps_writing``) has
    the next case read and analysed in a second thread while this thread writes the current one's
    files, so scenes and views stay on one thread and at most two cases are held at once."""
    if not job.overlaps_writing or len(todo) < 2:
        for index, case in todo:
            report(index, process_case(job, case, out_dir, protected(case), keep_results))
        return
    from concurrent.futures import ThreadPoolExecutor

    with contextlib.suppress(Exception):  # prepared here, in the writing thread; an error fails each case
        _prepared(job)
    with ThreadPoolExecutor(1, thread_name_prefix="orthoai-analysis") as analysis:
        pending = analysis.submit(analyse_case, job, todo[0][1])
        for position, (index, case) in enumerate(todo):
            analysed = pending.result()
            if position + 1 < len(todo):
                pending = analysis.submit(analyse_case, job, todo[position + 1][1])
            report(index, process_case(job, case, out_dir, protected(case), keep_results, analysed))


