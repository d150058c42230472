"""``--anonymise-names``: a batch whose outputs are named ``case-0001``, ``case-0002``… instead of
after the input files, because a file name can be a patient identifier (``DOE_JANE_1950.dcm``).

* The cases are renamed in input order, and their labels (the CSV's ``input`` column, the
  console) are the new names.
* The job reads each input through a link named after the case, so that nothing it
  derives from the file name (a reader's message, the ``source`` a pipeline records)
  carries the real name; the links live in the staging folder, which the run removes.
* What the runner writes itself about a case (a failure found before the job ran) is
  scrubbed of the input's path and name.
* The one place the names appear is ``name_mapping.csv`` in the output folder, readable
  by its owner alone (0o600). A later run into the same folder keeps every mapped input's
  case name, so ``--resume`` and added films work; new inputs get the next free numbers.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from ..io.discovery import DICOM_SUFFIXES, file_suffix
from ..io.reports import atomic_write_text, csv_text
from .batch_case import STAGING, UsageError
from .jobs import CaseInput, CaseOutcome

MAPPING = "name_mapping.csv"
COLUMNS = ("case", "input", "path")  # the case name, the input as the user named it, its absolute path
LINKS = ".inputs"  # inside the staging folder


def check_mapping(out_dir: Path) -> None:
    """The mapping's name must be free, or hold a mapping an earlier run wrote (never a user's file)."""
    path = Path(out_dir) / MAPPING
    if path.is_dir():
        raise UsageError(f"--out {out_dir}: {path} is a folder, in the way of the batch's own; move it or choose "
                         "another --out.")
    if path.exists() and _read_mapping(path) is None:
        raise UsageError(f"--out {out_dir}: {path} was not written by --anonymise-names and would be replaced; "
                         "move it or choose another --out.")


def anonymous_cases(cases: list[CaseInput], out_dir: Path) -> list[CaseInput]:
    """``cases`` named ``case-NNNN`` (labels too), the mapping written first; the paths are still the inputs'."""
    path = Path(out_dir) / MAPPING
    rows = {row["path"]: row for row in (_read_mapping(path) or [])}
    taken = {row["case"].lower() for row in rows.values()}
    number, renamed, used = 0, [], set()
    for case in cases:
        key = os.path.abspath(case.paths[0])
        known = rows.get(key)
        if known is None or known["case"] in used:  # new, or (never from discovery) a path met twice
            number += 1
            while f"case-{number:04d}" in taken:
                number += 1
            taken.add(f"case-{number:04d}")
            known = rows[key] = {"case": f"case-{number:04d}", "input": case.label, "path": key}
        known["input"] = case.label
        used.add(known["case"])
        renamed.append(replace(case, name=known["case"], label=known["case"]))
    atomic_write_text(path, csv_text(sorted(rows.values(), key=lambda row: row["case"]), COLUMNS), private=True)
    return renamed


def _read_mapping(path: Path):
    """The rows of an earlier run's mapping; [] when there is none, None when the file is not one."""
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            rows = list(reader)
        return rows if tuple(reader.fieldnames or ()) == COLUMNS else None
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def linked_inputs(case: CaseInput, out_dir: Path, suffixes: Iterable[str]) -> CaseInput:
    """``case`` reading its files through links named after the case (copies where links cannot be made)."""
    folder = Path(out_dir) / STAGING / LINKS / case.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    known = {s.lower() for s in suffixes} | set(DICOM_SUFFIXES)
    links = []
    for index, source in enumerate(case.paths, start=1):
        suffix = file_suffix(Path(source)) if file_suffix(Path(source)) in known else ""  # not a UID's tail
        link = folder / (f"{case.name}{suffix}" if len(case.paths) == 1 else f"{case.name}-{index:05d}{suffix}")
        try:
            os.symlink(os.path.abspath(source), link)
        except OSError:  # a file system without links: a copy keeps size and time (``--resume`` compares them)
            shutil.copy2(source, link)
        links.append(str(link))
    return replace(case, paths=tuple(links))


def hidden_names(case: CaseInput, original: CaseInput) -> tuple[str, ...]:
    """What must not appear in the outputs of ``case``: the original's paths, label and file names."""
    names = {original.label, *original.paths, *(os.path.abspath(p) for p in original.paths),
             *(Path(p).name for p in original.paths)}
    return tuple(sorted((n for n in names if n and n != case.name), key=len, reverse=True))


def scrub(value, hidden: tuple[str, ...], name: str):
    """``value`` (text, or a list of texts) with every hidden name, as a whole word or path, replaced by ``name``."""
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, hidden, name) for v in value)
    if not isinstance(value, str):
        return value
    for secret in hidden:
        value = re.sub(rf"(?<![\w.-]){re.escape(secret)}(?![\w-])", name, value)
    return value


def scrubbed(outcome: CaseOutcome, hidden: tuple[str, ...]) -> CaseOutcome:
    """The outcome as the CSV and the console may show it."""
    rows = tuple({key: scrub(value, hidden, outcome.name) for key, value in row.items()} for row in outcome.rows)
    return replace(outcome, rows=rows, message=scrub(outcome.message, hidden, outcome.name),
                   warnings=scrub(outcome.warnings, hidden, outcome.name))
