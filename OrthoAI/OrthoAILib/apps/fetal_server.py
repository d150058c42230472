"""``orthoai serve``: the fetal-head inference server (HTTP, standard library only).

    GET  /v1/health                                   no token: {"status", "queued", "processed", "failed", ...}
    POST /v1/analyse?filename=F&pixel_size_mm=P&ga_weeks=W&source=S
         body: the still (DICOM, PNG, JPEG or BMP)    → {"id", "result": FetalAnalysis.to_json(), "files": {...}}
    GET  /v1/results?after=ID&wait=S&limit=N          → {"results": [{"id", "received_utc", "source", "result",
                                                          "files"}...], "last_id"}: a long-poll feed
    GET  /v1/results/<id>/{heatmap,mask,still}.png    → the picture

Every route but health wants ``Authorization: Bearer <token>``. Errors are one line of JSON
(``{"error": "..."}``) with the status that says what to do: 401 token, 404 route, 405 method,
411 no Content-Length, 413 too large, 400 incomplete upload or unreadable still, 415 not an
image, 503 queue or upload memory full (with ``Retry-After``) or models missing. A client never
sees a traceback.

Handler threads accept requests; one inference worker thread runs the pipeline, so the models
are never used by two threads at once and concurrent stills wait in one bounded queue instead
of being lost. A publisher thread encodes each result's pictures (they take about as long as
the inference) and sends results back while the worker analyses the next still. Both stages take
their work in order, so results are published in the order of arrival with increasing ids, and a
feed reader that asks for everything after the last id it saw never misses one. The bytes of
stills being received or waiting are bounded too (``max_queue_mb``), counted from Content-Length
before a body is read. The last ``keep`` results stay in memory (their pictures for the last
``keep_files``), and with ``out_dir`` every result is written there too (JSON and PNGs, each
written atomically). With ``send_to`` a DICOM still's Secondary Capture (heatmap) and Structured
Report go back by C-STORE; a failed send becomes a warning of the result. The log has one line
per request; it leaves out query strings, where file names (which may name patients) travel.

This file holds ``make_server`` and the server object, which owns the shared state (the queues,
the upload memory, the token, the result store) and its shutdown. The rest lives beside it:
``fetal_handler`` (the HTTP requests), ``fetal_worker`` (the queue's inference and publishing
threads, DICOM send-back, warm-up) and ``fetal_results`` (the result store, feed and ``--out``).
The names this module had before the split are imported back here, so callers keep importing
them from ``apps.fetal_server``.
"""

from __future__ import annotations

import hmac
import math
import queue
import sys
import threading
import traceback
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from ..errors import InputError, OrthoAIError
from .fetal_handler import MAX_WAIT_S, FetalRequestHandler, sniff_still
from .fetal_results import FILE_NAMES, Log, ResultStore, StoredResult, stderr_line, utc_now, write_bytes_atomically
from .fetal_worker import InferenceWorker, Job, Publisher, send_results_back, still_png, warm_up

__all__ = ["FILE_NAMES", "MAX_WAIT_S", "TOKEN_ENV", "FetalRequestHandler", "FetalServer", "InferenceWorker", "Job", "Log",
           "Publisher", "ResultStore", "StoredResult", "make_server", "sniff_still", "stderr_line", "still_png",
           "utc_now", "warm_up", "write_bytes_atomically"]

TOKEN_ENV = "ORTHOAI_SERVER_TOKEN"


class FetalServer(ThreadingHTTPServer):
    """The bound server: the handler threads' shared state (queues, upload memory, token, results)
    and the two stage threads, started with it and stopped by ``shutdown``."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # bursts of senders connect at once

    def __init__(self, address, token: Optional[str], *, max_upload_bytes: int, max_queue: int, max_queue_bytes: int,
                 keep: int, keep_files: int, out_dir: Optional[Path], send_to: Optional[tuple[str, int, str]], calling_aet: str,
                 read_timeout_s: float, log: Log, pipeline=None) -> None:
        super().__init__(address, FetalRequestHandler)
        self.token = token.encode("utf-8") if token else None
        self.max_upload_bytes, self.read_timeout_s, self.log = max_upload_bytes, read_timeout_s, log
        self.send_to, self.calling_aet = send_to, calling_aet
        self.jobs: queue.Queue = queue.Queue(maxsize=max_queue)
        self.published: queue.Queue = queue.Queue(maxsize=4)  # analyses waiting for their pictures
        self.max_queue_bytes, self._held_bytes, self._held_lock = max_queue_bytes, 0, threading.Lock()
        self.results = ResultStore(keep, keep_files, out_dir, log)
        self._pipeline, self._pipeline_lock = pipeline, threading.Lock()
        self._state_lock, self._serving, self._closing = threading.Lock(), False, False
        self.worker, self.publisher = InferenceWorker(self), Publisher(self)
        self.worker.start()
        self.publisher.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def pipeline(self):
        with self._pipeline_lock:
            if self._pipeline is None:
                from .fetal import shared_pipeline

                self._pipeline = shared_pipeline()
            return self._pipeline

    def authorised(self, header: Optional[str]) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), self.token)

    def health(self) -> dict:
        from .. import __version__

        return {"status": "ok", "queued": self.jobs.qsize(), "busy": self.worker.busy or self.published.qsize() > 0,
                "processed": self.results.processed, "failed": self.results.failed, "last_id": self.results.last_id,
                "models": "loaded" if self._pipeline is not None else "not loaded", "version": __version__}

    def hold(self, size: int) -> bool:
        """Reserve ``size`` bytes of upload memory (stills being read, queued or analysed); False when
        the server already holds ``max_queue_bytes``, so many large uploads cannot exhaust memory."""
        with self._held_lock:
            if self._held_bytes and self._held_bytes + size > self.max_queue_bytes:
                return False
            self._held_bytes += size
            return True

    def release(self, size: int) -> None:
        with self._held_lock:
            self._held_bytes -= size

    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.jobs.qsize() * self.worker.mean_seconds))

    def send_back(self, job: Job, analysis, document: dict) -> list[str]:
        """C-STORE the Secondary Capture and the report of a DICOM still; a failure is a warning."""
        return send_results_back(job, analysis, document, self.send_to, self.calling_aet, self.log)

    def handle_error(self, request, client_address) -> None:
        """A connection that failed outside a route (dropped while sending its request): one log line."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            self.log(f"{client_address[0]} connection dropped ({type(error).__name__})")
        else:
            self.log(f"error: connection from {client_address[0]} failed:\n{traceback.format_exc().rstrip()}")

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        with self._state_lock:
            if self._closing:
                return
            self._serving = True
        super().serve_forever(poll_interval)

    def shutdown(self) -> None:
        """Stop serving, wake long polls, stop the worker, answer still-queued requests with 503."""
        with self._state_lock:
            if self._closing:
                return
            self._closing, serving = True, self._serving
        self.results.close()
        if serving:
            super().shutdown()
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.fail(503, "the server is shutting down")
        self.jobs.put(None)  # the worker finishes its still, then stops the publisher after it
        self.worker.join(timeout=30)
        self.publisher.join(timeout=30)
        self.server_close()


def make_server(host: str = "127.0.0.1", port: int = 0, token: Optional[str] = None, *, max_upload_mb: float = 50,
                max_queue: int = 1000, max_queue_mb: float = 1024, keep: int = 1000, keep_files: int = 100,
                out_dir: Optional[str | Path] = None,
                send_to: Optional[str] = None, calling_aet: str = "ORTHOAI", load_models: bool = True,
                read_timeout_s: float = 30.0, log: Optional[Log] = None) -> FetalServer:
    """A bound server (``.serve_forever()``, ``.shutdown()``, ``.server_address``, ``.url``).

    ``token=None`` serves without a token (the command line asks for ``--no-token`` to allow it).
    ``load_models``: load the pipeline now, so a missing model stops the start instead of the first
    request. ``send_to``: ``HOST:PORT:AET`` that DICOM stills' results are sent back to."""
    if max_upload_mb <= 0 or max_queue_mb <= 0 or max_queue < 1 or keep < 1 or keep_files < 0:
        raise InputError("--max-upload-mb and --max-queue-mb must be positive, --max-queue and --keep at least 1")
    from .fetal_client import parse_destination

    destination = parse_destination(send_to) if send_to else None
    folder = None
    if out_dir is not None:
        folder = Path(out_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"--out {folder}: cannot create it ({error.strerror}).") from None
    pipeline = None
    if load_models:
        from .fetal import shared_pipeline

        pipeline = warm_up(shared_pipeline())
    try:
        return FetalServer((host, port), token, max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_queue=max_queue,
                           max_queue_bytes=int(max_queue_mb * 1024 * 1024),
                           keep=keep, keep_files=keep_files, out_dir=folder, send_to=destination,
                           calling_aet=calling_aet, read_timeout_s=read_timeout_s, log=log or stderr_line,
                           pipeline=pipeline)
    except OSError as error:
        raise OrthoAIError(f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port.") from None
