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
import re
import shutil
import time
import uuid
from bisect import bisect_left
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Optional

from ..io.discovery import file_suffix, find_cases
from ..io.reports import read_record, write_csv
from .jobs import BatchJob, CaseInput, CaseOutcome, outcome_for_failure

# Re-exported: the command line and the modules import them from here.
# UsageError, process_case and the rest are re-exported: callers import the runner's names from here.
from .batch_case import (DONE, STAGING, UsageError, _norm, close_prepared, completed_outcome,  # noqa: F401
                         process_case, run_here)
from .batch_names import MAPPING, anonymous_cases, check_mapping, hidden_names, linked_inputs, scrubbed
from .batch_workers import DIED_TWICE, connect, run_in_processes, run_on_cluster  # noqa: F401


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
        """1 when any case failed or was refused (``no_prosthesis``, ``not_ct``…): nothing measured there."""
        return 1 if self.failed or self.refused else 0

    @property
    def refused(self) -> int:
        return sum(not outcome.failed and outcome.status != "ok" for outcome in self.outcomes)


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
    parser.add_argument("--anonymise-names", action="store_true",
                        help="name the outputs case-0001, case-0002... (input order) instead of after the input files, "
                             "whose names may identify patients; the only record of the names is --out/name_mapping.csv, "
                             "readable by you alone")


def batch_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`run_batch` from parsed arguments."""
    return {"source": args.input, "out_dir": args.out, "workers": args.workers,
            "scheduler": args.scheduler, "resume": args.resume, "anonymise_names": args.anonymise_names}


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


def _own_files(out_dir: Path, csv_name: str, source: Path) -> list[Path]:
    """What discovery must not take for inputs: the output folder inside INPUT, the tables, earlier outputs."""
    own = [out_dir / csv_name, out_dir / MAPPING] + ([out_dir] if _norm(out_dir) != _norm(source) else [])
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


def run_batch(job: BatchJob, source: Path, out_dir: Path, *, workers: int = 1, scheduler: Optional[str] = None,
              resume: bool = False, log: Callable[[str], None] = print, keep_results: bool = False,
              anonymise_names: bool = False) -> BatchSummary:
    """Run ``job`` on every case of ``source`` into ``out_dir``; the CSV is written even when interrupted.

    ``keep_results`` keeps each case's result object on its outcome (``workers=1`` only: other
    processes do not send results back, so memory stays flat over a batch). ``anonymise_names``:
    see ``apps.batch_names``.
    """
    started, source, out_dir = time.perf_counter(), Path(source), Path(out_dir)
    if workers < 1 or (scheduler and workers > 1):
        raise UsageError(f"--workers {workers}: give 1 or more, and not with --scheduler (the cluster has its own).")
    job.validate()
    created = check_output_folder(out_dir, job.csv_name, [source])
    try:
        found = find_cases(source, suffixes=job.suffixes, volumetric=job.volumetric,
                           exclude=_own_files(out_dir, job.csv_name, source))
        originals = [CaseInput(case.name, case.paths, case.label) for case in found.cases]
        check_output_folder(out_dir, job.csv_name, [path for case in originals for path in case.paths])
        if anonymise_names:
            check_mapping(out_dir)
        client = connect(scheduler) if scheduler else None
    except BaseException:  # stopped before any work: leave no empty output folder behind
        _remove_folders(created)
        raise
    cases, protected, hidden = _named(job, originals, found.cases, out_dir, anonymise_names)
    if found.skipped:
        log(found.skipped_summary(names=not anonymise_names))
    outcomes: list[Optional[CaseOutcome]] = [None] * len(cases)
    reported = [0]

    def report(index: int, outcome: CaseOutcome) -> None:
        outcome = scrubbed(outcome, hidden[index]) if hidden[index] else outcome
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
    try:
        if client is not None:
            run_on_cluster(job, todo, out_dir, client, protected, report)
        elif workers > 1 and len(todo) > 1:
            run_in_processes(job, todo, out_dir, workers, protected, report)
        else:
            try:
                run_here(job, todo, out_dir, protected, report, keep_results)
            finally:
                close_prepared()
    finally:
        if client is not None:
            client.close()
        final = [o or outcome_for_failure(job, c, "not run: the batch stopped before this case") for o, c in zip(outcomes, cases)]
        csv_path = write_csv(out_dir / job.csv_name, [row for outcome in final for row in outcome.rows], job.csv_columns)
        shutil.rmtree(out_dir / STAGING, ignore_errors=True)
    return BatchSummary(final, csv_path, resumed, found.skipped, time.perf_counter() - started)


def _clear_of_inputs(cases: list[CaseInput], out_dir: Path) -> list[CaseInput]:
    """Cases whose input lies in ``out_dir`` itself named with its type (``film.png`` -> ``film_png``), so that
    their outputs (``film_png.png``, a picture) never meet the input: with --out the input folder, a picture
    named after a PNG film would replace it (the runner refuses that, but the film would go unmeasured)."""
    root = os.path.realpath(out_dir)
    taken = {case.name.lower() for case in cases}
    renamed = []
    for case in cases:
        first = case.paths[0]
        tag = re.sub(r"\W+", "_", file_suffix(Path(first))).strip("_")  # nothing for a DICOM file without suffix
        named_alike = Path(first).name.lower().startswith(case.name.lower() + ".")  # film.png, case film
        if len(case.paths) > 1 or not tag or not named_alike or os.path.dirname(_norm(first)) != root:
            renamed.append(case)
            continue
        name, index = f"{case.name}_{tag}", 1
        while name.lower() in taken:
            index += 1
            name = f"{case.name}_{tag}_{index}"
        taken.add(name.lower())
        renamed.append(replace(case, name=name))
    return renamed


def _named(job: BatchJob, originals: list[CaseInput], found, out_dir: Path, anonymise: bool):
    """The cases as the job sees them, the inputs each must not overwrite, and the names each must not show."""
    if not anonymise:
        cases = _clear_of_inputs(originals, out_dir)
        return cases, _protection(out_dir, cases), [()] * len(cases)
    renamed = anonymous_cases(originals, out_dir)
    try:
        cases = [case if found_case.error else linked_inputs(case, out_dir, job.suffixes)
                 for case, found_case in zip(renamed, found)]
    except OSError as error:
        shutil.rmtree(out_dir / STAGING, ignore_errors=True)
        raise UsageError(f"--out {out_dir}: cannot link the inputs under their case names there "
                         f"({error.strerror or error}); choose another --out.") from None
    protect = _protection(out_dir, renamed)  # the inputs' real paths, against the new names
    by_name = {case.name: protect(original) for case, original in zip(cases, renamed)}
    return cases, lambda case: by_name[case.name], [hidden_names(c, o) for c, o in zip(cases, originals)]
