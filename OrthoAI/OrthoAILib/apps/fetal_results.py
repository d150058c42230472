"""The inference server's results: the bounded in-memory store behind ``GET /v1/results`` (the
long-poll feed and the pictures), and the optional copy of every result in ``--out``.

The last ``keep`` results stay in memory, their pictures (most of a result's bytes) only for the
last ``keep_files``, so memory stays bounded however long the server runs. With an ``out_dir``
every result is also written there (JSON and PNGs, each atomically) before the feed announces it,
and pictures no longer in memory are read back from it. Also the small helpers the server and the DICOM listener
share: the default log, UTC time stamps, atomic writes.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:  # only for annotations: the worker module imports this one
    from .fetal_worker import Job

FILE_NAMES = ("heatmap", "mask", "still")
Log = Callable[[str], None]


def stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_bytes_atomically(path: Path, data: bytes, *, overwrite: bool = True) -> bool:
    """Write ``data`` to ``path`` under a temporary name, then move it into place. Without
    ``overwrite`` an existing ``path`` is left alone and False is returned (``os.link`` fails on it)."""
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
            return True
        except FileExistsError:
            return False
    finally:
        if temporary.exists():
            temporary.unlink()


@dataclass
class StoredResult:
    id: int
    received_utc: str
    source: str
    result: dict
    files: dict  # name -> PNG bytes while in memory, None once dropped (then read from out_dir)
    on_disk: tuple[str, ...] = ()

    def file_urls(self) -> dict:
        names = [n for n in FILE_NAMES if self.files.get(n) is not None or n in self.on_disk]
        return {name: f"/v1/results/{self.id}/{name}.png" for name in names}

    def feed_item(self) -> dict:
        return {"id": self.id, "received_utc": self.received_utc, "source": self.source, "result": self.result,
                "files": self.file_urls()}


class ResultStore:
    """The last ``keep`` results, their pictures for the last ``keep_files``; waiters woken on each new one."""

    def __init__(self, keep: int, keep_files: int, out_dir: Optional[Path], log: Log = stderr_line) -> None:
        self.keep, self.keep_files, self.out_dir, self.log = keep, keep_files, out_dir, log
        self._results: OrderedDict[int, StoredResult] = OrderedDict()
        self._changed = threading.Condition()
        self.last_id = self.processed = self.failed = 0
        self.closing = False

    def add(self, job: Job, document: dict, files: dict) -> StoredResult:
        with self._changed:
            self.last_id += 1
            entry = StoredResult(self.last_id, job.received_utc, job.source, document,
                                 {k: v for k, v in files.items() if v is not None})
        if self.out_dir is not None:  # written before it is announced, so a reader of the feed finds the files
            try:
                entry.on_disk = self._write(entry)
            except OSError as error:  # a full disk loses the copy on disk, not the result
                message = f"not_written: result {entry.id} could not be written to {self.out_dir} ({error.strerror or error})"
                self.log(message)
                document["warnings"].append(message)
        with self._changed:
            self._results[entry.id] = entry
            self.processed += 1
            while len(self._results) > self.keep:
                self._results.popitem(last=False)
            for old in list(self._results.values())[:-self.keep_files or None]:
                old.files = {name: None for name in old.files}
            self._changed.notify_all()
        return entry

    def count_failure(self) -> None:
        with self._changed:
            self.failed += 1

    def _write(self, entry: StoredResult) -> tuple[str, ...]:
        stem = self.out_dir / f"{entry.id:06d}"
        written = []
        for name, content in entry.files.items():
            write_bytes_atomically(Path(f"{stem}.{name}.png"), content)
            written.append(name)
        document = entry.feed_item()
        document["files"] = {name: f"{entry.id:06d}.{name}.png" for name in written}
        from ..io.reports import write_json

        write_json(f"{stem}.json", document)
        return tuple(written)

    def after(self, last_id: int, wait_s: float, limit: int) -> list[dict]:
        with self._changed:
            self._changed.wait_for(lambda: self.last_id > last_id or self.closing, timeout=wait_s)
            return [e.feed_item() for i, e in self._results.items() if i > last_id][:limit]

    def file(self, result_id: int, name: str) -> Optional[bytes]:
        with self._changed:
            entry = self._results.get(result_id)
            content = None if entry is None else entry.files.get(name)
            on_disk = entry is not None and name in entry.on_disk
        if content is None and on_disk:  # read outside the lock: a slow disk must not stall the feed
            try:
                return (self.out_dir / f"{result_id:06d}.{name}.png").read_bytes()
            except OSError:
                return None
        return content

    def close(self) -> None:
        with self._changed:
            self.closing = True
            self._changed.notify_all()
