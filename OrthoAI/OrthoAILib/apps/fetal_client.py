"""Clients of the fetal flow: the inference server's HTTP API, and a DICOM sender.

``FetalServerClient`` is what the console (``orthoai fetal-results``), the DICOM listener and the
Slicer module's "listen" switch use: standard library only, short timeouts, one exception type
(``ServerError``) that says whether trying again can help. It never goes through an HTTP proxy:
the server is on the local network, and a proxy would see the token and the stills.

``send_datasets`` / ``send_files`` are a storescu-style C-STORE sender (``orthoai dicom-send``, and
the server's sending of results back to a PACS).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Iterator, Optional
from urllib.parse import urlencode

from ..errors import InputError, OrthoAIError

TRANSIENT_STATUSES = (408, 429, 502, 503, 504)


class ServerError(OrthoAIError):
    """The server could not be reached or refused a request. ``status`` is None when no answer came."""

    def __init__(self, message: str, status: Optional[int] = None, retry_after_s: Optional[float] = None) -> None:
        super().__init__(message)
        self.status, self.retry_after_s = status, retry_after_s

    @property
    def transient(self) -> bool:
        """True when the same request may succeed later (no answer, queue full, server restarting)."""
        return self.status is None or self.status in TRANSIENT_STATUSES


class FetalServerClient:
    """The inference server at ``base_url`` (``http://host:port``) with its ``token``."""

    def __init__(self, base_url: str, token: Optional[str] = None, *, timeout_s: float = 10.0,
                 analyse_timeout_s: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise InputError(f"--server {base_url}: give the server's address as http://HOST:PORT")
        self.token, self.timeout_s, self.analyse_timeout_s = token, timeout_s, analyse_timeout_s
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _request(self, method: str, path: str, *, params: Optional[dict] = None, body: Optional[bytes] = None,
                 timeout_s: Optional[float] = None) -> bytes:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=body, method=method)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", "application/octet-stream")
        try:
            with self._opener.open(request, timeout=timeout_s or self.timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise _http_error(method, path, error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerError(f"{self.base_url}: no answer to {method} {path} ({reason})") from None

    def _json(self, method: str, path: str, **kwargs) -> dict:
        content = self._request(method, path, **kwargs)
        try:
            return json.loads(content)
        except ValueError:
            raise ServerError(f"{self.base_url}{path}: the answer is not JSON; is this an OrthoAI server?") from None

    def health(self) -> dict:
        return self._json("GET", "/v1/health")

    def analyse(self, data: bytes, filename: str, *, pixel_size_mm: Optional[float] = None,
                ga_weeks: Optional[float] = None, source: Optional[str] = None) -> dict:
        """``{"id", "result", "files"}`` of one still (its bytes as stored: DICOM, PNG, JPEG)."""
        params = {"filename": filename, "pixel_size_mm": pixel_size_mm, "ga_weeks": ga_weeks, "source": source}
        return self._json("POST", "/v1/analyse", params=params, body=bytes(data), timeout_s=self.analyse_timeout_s)

    def results_after(self, last_id: int = 0, wait_s: float = 0.0, limit: Optional[int] = None) -> list[dict]:
        """The results with an id above ``last_id``; waits up to ``wait_s`` for one when there is none yet."""
        params = {"after": int(last_id), "wait": f"{max(wait_s, 0.0):g}", "limit": limit}
        return self._json("GET", "/v1/results", params=params, timeout_s=self.timeout_s + wait_s)["results"]

    def file(self, result_id: int, name: str) -> bytes:
        """A result's picture: ``heatmap``, ``mask`` or ``still`` (PNG bytes)."""
        name = name[:-4] if name.endswith(".png") else name
        return self._request("GET", f"/v1/results/{int(result_id)}/{name}.png")

    def follow(self, after: int = 0, wait_s: float = 25.0, should_stop=lambda: False) -> Iterator[dict]:
        """Every result after ``after`` as it arrives; rides out a server restart by retrying."""
        delay = 1.0
        while not should_stop():
            try:
                results = self.results_after(after, wait_s)
                delay = 1.0
            except ServerError as error:
                if not error.transient:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            for item in results:
                after = max(after, item["id"])
                yield item


def _http_error(method: str, path: str, error: urllib.error.HTTPError) -> ServerError:
    try:
        message = json.loads(error.read() or b"{}").get("error") or error.reason
    except (ValueError, OSError, AttributeError):
        message = error.reason
    retry = error.headers.get("Retry-After") if error.headers else None
    try:
        retry_after = float(retry) if retry else None
    except ValueError:
        retry_after = None
    return ServerError(f"{method} {path}: HTTP {error.code}: {message}", error.code, retry_after)


def summary_line(item: dict) -> str:
    """One line per still: id, source, status, HC, CI, class, flags."""
    result = item.get("result") or {}

    def value(key: str, unit: str) -> str:
        number = result.get(key)
        return "-" if number is None else f"{number:.1f} {unit}"

    chosen = result.get("class")
    probability = (result.get("class_probabilities") or {}).get(chosen) if chosen else None
    shape = "-" if not chosen else chosen + (f" ({probability:.2f})" if probability is not None else "")
    flags = ",".join(result.get("flags") or []) or "-"
    source = item.get("source") or result.get("source", "")
    return (f"#{item.get('id')}  {source}  {result.get('status', '?')}  HC {value('hc_mm', 'mm')}  "
            f"CI {value('cephalic_index', '%')}  class {shape}  flags {flags}")


# -- DICOM C-STORE sender ----------------------------------------------------------------------------------
class DicomSendError(OrthoAIError):
    """No association with the destination (refused, unreachable, no common transfer syntax)."""


def parse_destination(text: str) -> tuple[str, int, str]:
    """``HOST:PORT:AET`` → (host, port, AE title)."""
    host, _, rest = text.rpartition(":")
    host, _, port = host.rpartition(":")
    aet = rest.strip()
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not aet or not 0 < number < 65536 or len(aet) > 16:
        raise InputError(f"{text!r}: give the destination as HOST:PORT:AET (e.g. pacs.local:104:PACS)")
    return host, number, aet


def send_datasets(datasets: Iterable, host: str, port: int, called_aet: str, *, calling_aet: str = "ORTHOAI",
                  timeout_s: float = 30.0) -> list[int]:
    """C-STORE each dataset (which has ``file_meta.TransferSyntaxUID``) in one association; their statuses."""
    from pynetdicom import AE
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    datasets = list(datasets)
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout_s
    contexts: dict[str, list[str]] = {}
    for ds in datasets:
        syntaxes = contexts.setdefault(str(ds.SOPClassUID), [])
        for syntax in (str(ds.file_meta.TransferSyntaxUID), ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            if syntax not in syntaxes:
                syntaxes.append(syntax)
    if len(contexts) > 128:
        raise DicomSendError(f"{len(contexts)} kinds of object in one association; send at most 128 at a time")
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, syntaxes)
    assoc = ae.associate(host, port, ae_title=called_aet)
    if not assoc.is_established:
        why = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "not established"
        raise DicomSendError(f"association with {called_aet}@{host}:{port} {why} (AE titles, port, or network?)")
    statuses = []
    try:
        for ds in datasets:
            try:
                status = assoc.send_c_store(ds)
            except (ValueError, RuntimeError, AttributeError) as error:  # no accepted context for this object
                raise DicomSendError(f"{called_aet} did not accept {ds.SOPClassUID.name}: {error}") from None
            statuses.append(int(status.Status) if "Status" in status else 0xFFFF)  # 0xFFFF: no answer
    finally:
        assoc.release()
    return statuses


def send_files(paths: Iterable[str | Path], host: str, port: int, called_aet: str, *, calling_aet: str = "ORTHOAI",
               timeout_s: float = 30.0) -> list[tuple[Path, int]]:
    """``orthoai dicom-send``: every file in one association; ``(path, status)`` each."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    paths = [Path(p) for p in paths]
    datasets = []
    for path in paths:
        try:
            datasets.append(pydicom.dcmread(path))
        except (InvalidDicomError, OSError) as error:
            raise InputError(f"{path}: not a DICOM file that can be sent ({' '.join(str(error).split())[:120]})") from None
    return list(zip(paths, send_datasets(datasets, host, port, called_aet, calling_aet=calling_aet, timeout_s=timeout_s)))
