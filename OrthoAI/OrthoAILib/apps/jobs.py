"""What a pipeline gives the batch runner: a job that turns one case into files and CSV rows.

The runner (``apps.batch``) finds the cases, names them, checks the output
folder, runs them (here, in worker processes, or on a Dask cluster), moves each
case's files into place only when the case is complete, and writes the CSV.
A pipeline's app (``apps/<name>.py``) provides a :class:`BatchJob`: which files
it reads, how to load its models once per process, and how to process one case
into a staging folder.

A job is a plain dataclass of options, so it pickles to worker processes and
cluster workers; its models are loaded there by :meth:`BatchJob.prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional


@dataclass(frozen=True)
class CaseInput:
    """One case: a file, or every file of one DICOM series (volumetric pipelines)."""

    name: str  # unique within the run; every output file of the case starts with it
    paths: tuple[str, ...]
    label: str  # the input as the user knows it (path relative to the INPUT given), for messages and the CSV


@dataclass(frozen=True)
class CaseOutcome:
    name: str
    label: str
    status: str  # "ok", "failed", or the pipeline's own status (e.g. "no_prosthesis")
    rows: tuple[dict, ...]  # CSV rows of the case, each with "input", "status" and "warnings"
    files: tuple[str, ...] = ()  # output file names, relative to the output folder
    message: str = ""  # one line for the console
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    result: Any = field(default=None, compare=False)  # the pipeline's result (in-process runs only)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class BatchJob:
    """Base of every pipeline's batch job (subclass as a frozen dataclass of options)."""

    pipeline: ClassVar[str] = ""  # the command's name, e.g. "hip"
    csv_name: ClassVar[str] = "results.csv"
    csv_columns: ClassVar[tuple[str, ...]] = ("input", "status", "warnings")
    suffixes: ClassVar[tuple[str, ...]] = ()  # file endings read (lower case, with the dot); DICOM is found by content
    volumetric: ClassVar[bool] = False  # True: the files of one DICOM series make one case
    # True: analyse() and write() split process(), and a run in one process reads and analyses the
    # next case in a second thread while this thread writes a case's files (a film's outputs cost
    # almost as much as its analysis: overlapped, a batch takes about the longer of the two per case).
    overlaps_writing: ClassVar[bool] = False

    def validate(self) -> None:
        """Check the options before any work; raise ``InputError`` with what to change."""

    def prepare(self) -> None:
        """Load models (once per process: the runner calls it before the first case there)."""

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        """Read the case, run the pipeline and write every output file into ``staging`` under the
        names it returns. Raise ``OrthoAIError`` for a failure the user can act on."""
        raise NotImplementedError

    def analyse(self, case: CaseInput) -> Any:
        """The first part of :meth:`process` (jobs that overlap): read the case and run the pipeline.
        It runs in a thread of its own: it writes no file and touches no scene; whatever it returns
        is given to :meth:`write`. Raise ``OrthoAIError`` for a failure the user can act on."""
        raise NotImplementedError

    def write(self, case: CaseInput, analysed: Any, staging: Path) -> CaseOutcome:
        """The second part of :meth:`process` (jobs that overlap): write the outputs of ``analysed``
        into ``staging``; it runs in the thread that writes every case (scenes, views)."""
        raise NotImplementedError

    def failure_rows(self, case: CaseInput, message: str) -> tuple[dict, ...]:
        return ({"input": case.label, "status": "failed", "warnings": message},)

    def close(self) -> None:
        """Release what ``prepare`` loaded (end of a run in this process)."""


def outcome_for_failure(job: BatchJob, case: CaseInput, message: str, seconds: float = 0.0) -> CaseOutcome:
    return CaseOutcome(case.name, case.label, "failed", job.failure_rows(case, message), (), message, (), seconds)


def pipeline_status(rows: tuple[dict, ...], default: Optional[str] = "ok") -> str:
    """The case's status from its rows: the first that is not ``ok``, else ``ok``."""
    return next((row["status"] for row in rows if row.get("status", "ok") != "ok"), default or "ok")
