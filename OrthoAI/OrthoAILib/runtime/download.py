"""Resumable HTTP(S) download of one file, verified against its sha256.

Bytes go to ``<target>.part``; an interrupted download resumes from there
with a ``Range`` request (a server that ignores ranges makes it start over).
The target appears, by an atomic rename, only once its checksum matches.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from ..errors import DownloadError
from .checksum import sha256_file
from .progress import CancelToken, ProgressCallback, report

_CHUNK = 1 << 16


def download_file(url: str, target: str | Path, sha256: str, *,
                  progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None,
                  timeout_s: float = 60.0) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    start = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "OrthoAI"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            resumed = start > 0 and response.status == 206
            if not resumed:
                start = 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            received = start
            with open(partial, "ab" if resumed else "wb") as out:
                while True:
                    if cancel is not None:
                        cancel.raise_if_cancelled("The download")  # the .part file stays for a later resume
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    if total:
                        report(progress, received / total, f"Downloading {target.name}")
            if total is not None and received < total:  # the server closed the connection early
                raise ConnectionError(f"connection closed after {received} of {total} bytes")
    except urllib.error.HTTPError as error:
        if error.code == 416:  # range not satisfiable: the partial file is already complete or bogus
            pass
        else:
            raise DownloadError(f"Download of {url} failed: HTTP {error.code} {error.reason}. Check the URL in the registry.") from None
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as error:
        raise DownloadError(
            f"Download of {url} was interrupted ({error}); run it again to resume from {partial.stat().st_size if partial.exists() else 0} bytes."
        ) from None

    actual = sha256_file(partial)
    if actual != sha256:
        partial.unlink()
        raise DownloadError(
            f"Downloaded {url} but its sha256 is {actual}, not {sha256} as the registry says; "
            "the file was discarded. The server may hold another version: check the registry entry."
        )
    os.replace(partial, target)
    report(progress, 1.0, f"Downloaded {target.name}")
    return target
