"""Finding the cases of a batch: a file, a folder searched recursively, or a list of inputs.

A PACS export is a tree of nested series folders whose files often have no
suffix, so a folder is walked to the bottom and DICOM is recognised by its
content (``DICM`` at byte 128) as well as by ``.dcm``. For a 3-D pipeline the
DICOM files are grouped by ``SeriesInstanceUID`` into one case per series.

Every case gets a name that is unique in the run, the same on every run and
safe as a file name, because every output file of a case starts with it:
the path relative to the folder given, its suffix removed, folders joined by
``__`` and dots turned into ``_`` (so ``<name>.<what>`` outputs of two cases
can never meet). Files that are not images are skipped and reported, never
silently dropped; a file the user named that cannot be read becomes a case
that fails with a message (the batch goes on).

Core layer: knows nothing of the batch runner, only of files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError

LIST_SUFFIXES = (".txt", ".list", ".lst")
DICOM_SUFFIXES = (".dcm", ".dicom")
_UNSAFE = re.compile(r"[^\w+-]+")


@dataclass(frozen=True)
class FoundCase:
    """One case as found on disk (the runner turns it into a ``CaseInput``)."""

    name: str
    paths: tuple[str, ...]
    label: str
    error: str = ""  # a named input that cannot be used: the case fails with this message


@dataclass(frozen=True)
class Skipped:
    label: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    cases: tuple[FoundCase, ...]
    skipped: tuple[Skipped, ...] = ()

    def skipped_summary(self, shown: int = 3, names: bool = True) -> str:
        """One line such as ``3 files skipped: not an image (a.txt, b.xml, notes.doc)``; empty when none.
        ``names=False`` leaves the file names out (they may identify patients)."""
        if not self.skipped:
            return ""
        reasons = sorted({s.reason for s in self.skipped})
        labels = ", ".join(s.label for s in self.skipped[:shown]) + (", ..." if len(self.skipped) > shown else "")
        count = len(self.skipped)
        return f"{count} file{'s' if count > 1 else ''} skipped: {'; '.join(reasons)}" + (f" ({labels})" if names else "")


@dataclass
class _Item:
    """A case before naming: ``parts`` is its label path, ``suffix`` what naming may strip."""

    paths: list[str]
    parts: tuple[str, ...]
    suffix: str
    label: str
    error: str = ""
    order: tuple = field(default=())


def file_suffix(path: Path) -> str:
    """Lower-case suffix, with ``.nii.gz`` as one suffix."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def has_dicom_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            stream.seek(128)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def find_cases(source: Path, *, suffixes: Iterable[str], volumetric: bool,
               exclude: Iterable[Path] = ()) -> Discovery:
    """The cases under ``source`` (file, folder or list file), in a deterministic order.

    ``suffixes`` are the endings the pipeline reads (DICOM is always found by content);
    ``exclude`` are files or folders never walked (the runner's own outputs).
    Raises ``InputError`` when ``source`` does not exist or holds nothing readable.
    """
    source = Path(source)
    wanted = {s.lower() for s in suffixes}
    excluded = {os.path.abspath(p) for p in exclude}
    if not source.exists():
        raise InputError(f"No such file or folder: {source}")
    items: list[_Item] = []
    skipped: list[Skipped] = []
    if source.is_file() and file_suffix(source) in LIST_SUFFIXES and file_suffix(source) not in wanted:
        entries = _read_list(source)
        for (entry, line), base in zip(entries, _list_bases(entries)):
            if entry.is_dir():
                found = _walk(entry, base, wanted, volumetric, excluded, skipped)
                items += found or [_Item([os.path.abspath(entry)], base, "", "/".join(base),
                                         f"{entry} holds no input this pipeline reads (line {line} of {source.name})")]
            else:
                items.append(_named_file(entry, base, wanted, f"line {line} of {source.name}"))
        items = _drop_duplicates(items, skipped)
    elif source.is_dir():
        items = _walk(source, (), wanted, volumetric, excluded, skipped)
    else:
        items = [_named_file(source, (source.name,), wanted, "")]
    if not items:
        kinds = ", ".join(sorted(wanted)) or "no other kind"
        detail = f": {Discovery((), tuple(skipped)).skipped_summary()}" if skipped else ""
        raise InputError(f"{source} holds no input this pipeline reads (DICOM, {kinds}){detail}.")
    return Discovery(tuple(_name_cases(items)), tuple(skipped))


def _read_list(list_file: Path) -> list[tuple[Path, int]]:
    """Entries of a list file: one path per line, ``#`` comments, relative to the list's folder."""
    try:
        lines = list_file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read the list {list_file}: {error}") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            path = Path(os.path.expanduser(text))
            entries.append((path if path.is_absolute() else list_file.parent / path, number))
    return entries


def _list_bases(entries: list[tuple[Path, int]]) -> list[tuple[str, ...]]:
    """Label parts of listed entries: relative to the deepest folder holding them all, so that
    ``/pacs/p1/film.dcm`` and ``/pacs/p2/film.dcm`` stay ``p1/film.dcm`` and ``p2/film.dcm``."""
    paths = [os.path.abspath(entry) for entry, _ in entries]
    try:
        common = os.path.commonpath([os.path.dirname(path) for path in paths]) if paths else ""
    except ValueError:  # on different drives
        return [(Path(path).name,) for path in paths]
    return [Path(os.path.relpath(path, common)).parts for path in paths]


def _named_file(path: Path, parts: tuple[str, ...], wanted: set[str], where: str) -> _Item:
    """A file the user named: always a case, failing with a message when it cannot be used."""
    label = "/".join(parts) or path.name
    suffix = file_suffix(path) if file_suffix(path) in wanted else _dicom_suffix(path)
    at = f" ({where})" if where else ""
    error = ""
    if not path.exists():
        error = f"No such file or folder: {path}{at}"
    elif not path.is_file():
        error = f"{path} is not a regular file{at}"
    elif not os.access(path, os.R_OK):
        error = f"{path} cannot be read (permission denied){at}"
    elif not suffix and not has_dicom_magic(path):
        kinds = ", ".join(sorted(wanted))
        error = f"{label}: not a file this pipeline reads (DICOM{', ' + kinds if kinds else ''}){at}"
    return _Item([os.path.abspath(path)], parts, suffix, label, error, (0,))


def _walk(folder: Path, base: tuple[str, ...], wanted: set[str], volumetric: bool, excluded: set[str],
          skipped: list[Skipped]) -> list[_Item]:
    """Every input under ``folder`` (hidden entries and ``excluded`` left out), sorted by path."""
    items: list[_Item] = []
    dicom: list[tuple[Path, tuple[str, ...]]] = []
    visited: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:  # a linked folder seen already (no endless loops)
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.abspath(os.path.join(root, d)) not in excluded)
        relative = Path(os.path.relpath(root, folder)).parts
        relative = () if relative == (".",) else relative
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(".") or os.path.abspath(path) in excluded:
                continue
            parts = base + relative + (name,)
            suffix = file_suffix(path)
            if name.upper() == "DICOMDIR":
                skipped.append(Skipped("/".join(parts), "DICOM directory index"))
            elif suffix in wanted and suffix not in DICOM_SUFFIXES:
                items.append(_Item([os.path.abspath(path)], parts, suffix, "/".join(parts), order=parts))
            elif suffix in DICOM_SUFFIXES or has_dicom_magic(path):
                dicom.append((path, parts))
            else:
                skipped.append(Skipped("/".join(parts), "not an image"))
    items += _group_dicom(dicom, skipped, base or (folder.name,)) if volumetric else [
        _Item([os.path.abspath(p)], parts, _dicom_suffix(p), "/".join(parts), order=parts) for p, parts in dicom]
    return sorted(items, key=lambda item: item.order)


def _dicom_suffix(path: Path) -> str:
    """What a DICOM name may lose: ``.dcm``, not the tail of a UID (``CT.1.2.840.113619``)."""
    return file_suffix(path) if file_suffix(path) in DICOM_SUFFIXES else ""


def _group_dicom(files: list[tuple[Path, tuple[str, ...]]], skipped: list[Skipped], root: tuple[str, ...]) -> list[_Item]:
    """One item per DICOM series, named after the folder that holds its files (``root``: the folder walked)."""
    import pydicom

    series: dict[str, list[tuple[tuple, Path, tuple[str, ...]]]] = {}
    for path, parts in files:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            uid = str(header.SeriesInstanceUID)
            header.Rows  # noqa: B018  (a DICOM without an image has no Rows)
        except Exception:  # noqa: BLE001  (any unreadable header means: not an image)
            skipped.append(Skipped("/".join(parts), "DICOM without a readable image header"))
            continue
        series.setdefault(uid, []).append((_slice_key(header, parts), path, parts))
    items = []
    for members in series.values():
        members.sort(key=lambda member: member[0])
        folders = [m[2][:-1] for m in members]
        common = folders[0][: next((i for i, p in enumerate(zip(*folders)) if len(set(p)) > 1), min(map(len, folders)))]
        common = common or root
        items.append(_Item([os.path.abspath(m[1]) for m in members], common, "", "/".join(common),
                           order=min(m[2] for m in members)))
    items.sort(key=lambda item: item.order)
    by_folder: dict[tuple[str, ...], list[_Item]] = {}
    for item in items:
        by_folder.setdefault(item.parts, []).append(item)
    for group in by_folder.values():
        if len(group) > 1:  # several series in one folder: a short index tells them apart
            for index, item in enumerate(group, start=1):
                item.parts = item.parts[:-1] + (f"{item.parts[-1]}_{index}",)
                item.label = f"{item.label} (series {index} of {len(group)})"
    return items


def _slice_key(header, parts: tuple[str, ...]) -> tuple:
    """Order of a slice: position along the slice normal, else instance number, else file name."""
    try:
        import numpy as np

        orientation = np.array([float(v) for v in header.ImageOrientationPatient]).reshape(2, 3)
        position = np.array([float(v) for v in header.ImagePositionPatient])
        return (0, float(np.dot(np.cross(orientation[0], orientation[1]), position)), parts)
    except Exception:  # noqa: BLE001  (missing or malformed geometry)
        pass
    try:
        return (1, float(header.InstanceNumber), parts)
    except Exception:  # noqa: BLE001
        return (2, 0.0, parts)


def _drop_duplicates(items: list[_Item], skipped: list[Skipped]) -> list[_Item]:
    """A file listed twice (or reached through two entries) is one case."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for item in items:
        key = tuple(os.path.realpath(p) for p in item.paths)
        if key in seen and not item.error:
            skipped.append(Skipped(item.label, "listed twice"))
            continue
        seen.add(key)
        kept.append(item)
    return kept


def safe_name(parts: tuple[str, ...], suffix: str) -> str:
    """``patient1/series2/film.png`` -> ``patient1__series2__film`` (no dots, no separators)."""
    parts = tuple(parts) or ("input",)
    last = parts[-1][: -len(suffix)] if suffix and parts[-1].lower().endswith(suffix) else parts[-1]
    cleaned = [_UNSAFE.sub("_", p).strip("_") or "_" for p in (*parts[:-1], last or parts[-1])]
    return "__".join(cleaned)


def _name_cases(items: list[_Item]) -> list[FoundCase]:
    """Unique names, case-insensitively (some file systems ignore case): the suffix kept where it tells
    colliding names apart (``film.dcm``, ``film.png``), then an index in input order."""
    names = [safe_name(item.parts, item.suffix) for item in items]
    suffixes: dict[str, set[str]] = {}
    for name, item in zip(names, items):
        suffixes.setdefault(name.lower(), set()).add(item.suffix)
    names = [f"{name}_{_UNSAFE.sub('_', item.suffix).strip('_')}" if len(suffixes[name.lower()]) > 1 and item.suffix
             else name for name, item in zip(names, items)]
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, index = name, 1
        while candidate.lower() in taken:
            index += 1
            candidate = f"{name}_{index}"
        taken.add(candidate.lower())
        unique.append(candidate)
    return [FoundCase(name, tuple(item.paths), item.label, item.error) for name, item in zip(unique, items)]
