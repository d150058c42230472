"""The inference server's HTTP side: one ``FetalRequestHandler`` per connection, on the server's
handler threads.

It routes the requests, checks the token, reads uploads and answers. Everything a client can get
wrong ends in one line of JSON with the status that says what to do, never a traceback. An upload
is refused before a byte of its body is read when its Content-Length is too large or the server
already holds as many stills as it may, so a burst of large uploads cannot exhaust memory. A POST
waits on its job until the worker and the publisher have answered it. The log has one line per
request; it leaves out query strings, where file names (which may name patients) travel.
"""

from __future__ import annotations

import json
import math
import queue
import re
import socket
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Optional
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError
from .fetal_worker import Job

if TYPE_CHECKING:  # only for annotations: the server module imports this one
    from .fetal_server import FetalServer

MAX_WAIT_S = 60.0  # caps ?wait=: a long poll must not hold a handler thread indefinitely


def sniff_still(data: bytes) -> Optional[str]:
    """The file suffix of what ``data`` is by content (``.dcm``, ``.png``, ``.jpg``, ``.bmp``), or None."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return ".dcm"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"BM") and len(data) > 54:
        return ".bmp"
    if len(data) > 132 and data[:2] in (b"\x02\x00", b"\x08\x00"):  # DICOM without its preamble (group 2 or 8 first)
        return ".dcm"
    return None


class FetalRequestHandler(BaseHTTPRequestHandler):
    """One connection's requests: routing, the token, the upload, the answer and its log line."""

    server: FetalServer
    server_version = "OrthoAI"
    sys_version = ""  # no Python version in the Server header

    def setup(self) -> None:
        self.timeout = self.server.read_timeout_s  # a stalled or truncated upload ends in a timeout, not a hung thread
        super().setup()
        self._status, self._sent, self._started = 0, 0, time.perf_counter()

    # -- answering ----------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: tuple = ()) -> None:
        self._status, self._sent = status, len(body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away: nothing to answer
            self.close_connection = True

    def _json(self, status: int, document: dict, headers: tuple = ()) -> None:
        self._send(status, (json.dumps(document) + "\n").encode("utf-8"), "application/json", headers)

    def _error(self, status: int, message: str, headers: tuple = (), close: bool = False) -> None:
        if close:
            self.close_connection = True
            headers = headers + (("Connection", "close"),)
        self._json(status, {"error": " ".join(message.split())}, headers)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """The base class's own errors (malformed request line, unsupported method) as JSON too."""
        self._error(code, message or HTTPStatus(code).phrase, close=True)
        self._log()

    def log_request(self, code="-", size="-") -> None:  # logged once, by _log, with the time taken
        pass

    def log_message(self, format: str, *args) -> None:  # the base class's own notes (a timed-out request line)
        self.server.log(f"{self.client_address[0]} {format % args}")

    def _log(self) -> None:
        target = getattr(self, "path", None)  # unset when the request line itself was refused
        path = urlsplit(target).path if isinstance(target, str) else "-"
        self.server.log(f"{self.client_address[0]} {getattr(self, 'command', None) or '-'} {path} {self._status} {self._sent}B "
                        f"{1000 * (time.perf_counter() - self._started):.0f}ms")

    # -- routing ------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    ROUTES = (("GET", re.compile(r"/v1/health/?"), "_health", False),
              ("POST", re.compile(r"/v1/analyse/?"), "_analyse", True),
              ("GET", re.compile(r"/v1/results/?"), "_feed", True),
              ("GET", re.compile(r"/v1/results/(\d{1,12})/(heatmap|mask|still)\.png"), "_file", True))

    def _dispatch(self, method: str) -> None:
        self._started = time.perf_counter()
        try:
            parts = urlsplit(self.path)
            routes = [(m, r.fullmatch(parts.path), name, auth) for m, r, name, auth in self.ROUTES]
            routes = [(m, match, name, auth) for m, match, name, auth in routes if match]
            if not routes:
                self._error(404, f"no such route: {parts.path}; see GET /v1/health", close=method != "GET")
            elif not any(m == method for m, *_ in routes):
                self._error(405, f"{method} is not allowed on {parts.path}", (("Allow", routes[0][0]),), close=True)
            else:
                _, match, name, auth = next(r for r in routes if r[0] == method)
                if auth and not self.server.authorised(self.headers.get("Authorization")):
                    self._error(401, "missing or wrong token: send 'Authorization: Bearer <token>'",
                                (("WWW-Authenticate", 'Bearer realm="orthoai"'),), close=method == "POST")
                else:
                    getattr(self, name)(match, parse_qs(parts.query))
        except Exception:  # noqa: BLE001  (never a traceback to the client)
            self.server.log(f"error: {self.command} {urlsplit(self.path).path} failed:\n{traceback.format_exc().rstrip()}")
            self._error(500, "internal server error; the server log has the details", close=True)
        self._log()

    # -- the routes ---------------------------------------------------------------------------------------
    def _health(self, match, query) -> None:
        self._json(200, self.server.health())

    def _feed(self, match, query) -> None:
        try:
            after = int(query.get("after", ["0"])[0])
            wait = min(max(float(query.get("wait", ["0"])[0]), 0.0), MAX_WAIT_S)
            limit = min(max(int(query.get("limit", ["100"])[0]), 1), 1000)
        except ValueError:
            self._error(400, "after and limit must be integers and wait a number of seconds")
            return
        if not math.isfinite(wait):
            wait = 0.0
        results = self.server.results.after(after, wait, limit)
        self._json(200, {"results": results, "last_id": self.server.results.last_id})

    def _file(self, match, query) -> None:
        content = self.server.results.file(int(match.group(1)), match.group(2))
        if content is None:
            self._error(404, f"no {match.group(2)} picture for result {match.group(1)} (no head found, or no longer kept)")
        else:
            self._send(200, content, "image/png")

    def _analyse(self, match, query) -> None:
        try:
            options = self._analysis_options(query)
        except InputError as error:
            self._error(400, str(error), close=True)
            return
        held = self._hold_upload()
        if held is None:
            return
        try:
            self._analyse_held(options, held)
        finally:
            self.server.release(held)

    def _analyse_held(self, options: dict, length: int) -> None:
        body = self._read_body(length)
        if body is None:
            return
        suffix = sniff_still(body)
        if suffix is None:
            self._error(415, "the body is not an image: send a DICOM ultrasound image, PNG, JPEG or BMP")
            return
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(options.pop("filename")).stem)[:100].strip("._") or "still"
        job = Job(body, stem + suffix, **options)
        job.source = job.source or job.filename
        try:
            self.server.jobs.put_nowait(job)
        except queue.Full:
            self._error(503, "the analysis queue is full; retry later", (("Retry-After", str(self.server.retry_after_s())),))
            return
        job.done.wait()
        if job.error is not None:
            status, message = job.error
            headers = (("Retry-After", "30"),) if status == 503 else ()
            self._error(status, message, headers)
        else:
            self._json(200, job.response)

    @staticmethod
    def _analysis_options(query: dict) -> dict:
        from .fetal import check_fetal_options

        def number(name: str) -> Optional[float]:
            text = query.get(name, [""])[0].strip()
            if not text:
                return None
            try:
                return float(text)
            except ValueError:
                raise InputError(f"{name}={text[:40]!r} is not a number") from None

        pixel_size, ga_weeks = number("pixel_size_mm"), number("ga_weeks")
        check_fetal_options(pixel_size, ga_weeks)
        source = " ".join(query.get("source", [""])[0].split())[:200]
        return {"filename": query.get("filename", ["still"])[0] or "still", "source": source,
                "pixel_size_mm": pixel_size, "ga_weeks": ga_weeks}

    def _hold_upload(self) -> Optional[int]:
        """The announced body size, held against the server's upload memory; or None after answering why
        the body will not be read (411, 400, 413, 503)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._error(411, "send the still with a Content-Length (chunked uploads are not accepted)", close=True)
            return None
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._error(411, "Content-Length required: send the still as the request body", close=True)
            return None
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(400, f"Content-Length {length_text[:20]!r} is not a size in bytes", close=True)
            return None
        if length > self.server.max_upload_bytes:  # refused before a byte of the body is read
            self._error(413, f"the still is {length} bytes; this server takes at most {self.server.max_upload_bytes}",
                        close=True)
            return None
        if length == 0:
            self._error(400, "the request body is empty: send the still as the body", close=True)
            return None
        if not self.server.hold(length):
            self._error(503, "the server holds as many stills as it may; retry later",
                        (("Retry-After", str(self.server.retry_after_s())),), close=True)
            return None
        return length

    def _read_body(self, length: int) -> Optional[bytes]:
        """The request body of ``length`` bytes, or None after answering 400 (truncated or stalled upload)."""
        chunks, remaining = [], length
        try:
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except (socket.timeout, TimeoutError, ConnectionError):
            pass
        if remaining:
            self._error(400, f"incomplete upload: received {length - remaining} of {length} bytes", close=True)
            return None
        return b"".join(chunks)
