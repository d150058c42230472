"""Writing reports (CSV tables, JSON documents) so that a reader never sees half a file.

Each file is written under a hidden temporary name in the folder of the target,
flushed to disk, then moved over the target with ``os.replace`` (atomic on one
file system). A batch killed mid-write leaves the previous file or the new one,
never a truncated table; the temporary file is removed when writing fails.

Completion records say that a unit of work finished: which files it wrote
(with their sizes) and a fingerprint of what it was made from. Written last,
they let a rerun skip work whose outputs are still complete and current.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence


def atomic_write_bytes(path: str | Path, data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` to ``path`` in one step; the folder must exist. ``private``: readable by its
    owner alone (a file that names patients' files)."""
    path = Path(path)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # os.open applies the umask itself (mkstemp would leave the report readable by its owner only).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if private:
            os.chmod(temporary, 0o600)  # the mode given to os.open is narrowed by the umask, never widened: made sure
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str, *, private: bool = False) -> Path:
    """``text`` as UTF-8, written in one step (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), private=private)


def cell(value: Any) -> Any:
    """A CSV cell: lists and tuples joined with ``; ``, ``None`` blank, anything else as it is."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(cell(v)) for v in value)
    return value


def csv_text(rows: Iterable[dict], columns: Sequence[str]) -> str:
    """The CSV document: one header, keys outside ``columns`` ignored, missing keys blank."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: cell(value) for key, value in row.items()})
    return buffer.getvalue()


def write_csv(path: str | Path, rows: Iterable[dict], columns: Sequence[str]) -> Path:
    return atomic_write_text(path, csv_text(rows, columns))


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths and sets, which ``json`` does not know."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be written to JSON")


def json_text(document: Any) -> str:
    return json.dumps(document, indent=2, default=_json_default) + "\n"


def write_json(path: str | Path, document: Any) -> Path:
    return atomic_write_text(path, json_text(document))


def fingerprint(description: str, paths: Iterable[str]) -> str:
    """What outputs were made from: ``description`` (e.g. the job's options) and each input's size and
    modification time (reading whole inputs again would cost as much as some pipelines)."""
    inputs = [[str(path), os.stat(path).st_size, os.stat(path).st_mtime_ns] for path in paths]
    return hashlib.sha256(json.dumps([description, inputs]).encode("utf-8")).hexdigest()


def write_record(path: str | Path, stamp: str, out_dir: str | Path, files: Iterable[str], **details: Any) -> Path:
    """Record that the ``files`` (relative to ``out_dir``, as they are now) were made from ``stamp``."""
    sizes = {name: (Path(out_dir) / name).stat().st_size for name in files}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, {"fingerprint": stamp, "files": sizes, **details})


def read_record(path: str | Path, out_dir: str | Path, stamp: Optional[str] = None) -> Optional[dict]:
    """The record at ``path`` if it is readable and (when ``stamp`` is given) its fingerprint is ``stamp``
    and every file it lists still has its recorded size; else ``None``."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if stamp is not None and (record["fingerprint"] != stamp or any(
                (Path(out_dir) / name).stat().st_size != size for name, size in record["files"].items())):
            return None
        return record if isinstance(record.get("files"), dict) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
