"""``orthoai dicom-listen``: a DICOM Storage SCP that takes ultrasound stills from scanners, stores
them de-identified, and forwards them to the inference server.

    scanner ──C-STORE──▶ listener ──store (de-identified)──▶ DIR/<uid>.dcm
                            └──queue──▶ forwarding thread ──POST /v1/analyse──▶ server
                                                            └──▶ DIR/<uid>.fetal.json + one line on stdout

Only the AE titles allowed (``--allow``) may associate. Ultrasound Image Storage (single and
multi-frame, and their retired forms) and Secondary Capture are accepted, in the transfer
syntaxes this installation can decode, and Verification (C-ECHO). An object whose Modality is
not ``US`` is refused with status 0xC000 and not stored: the pipeline reads ultrasound only, and
it keeps the listener from analysing the Secondary Captures it may receive back.

The C-STORE response never waits for inference: a still is on disk, and queued, when success
(0x0000) is answered. Storage writes under a temporary name and links the file into place, so a
reader never sees half a file and an existing file is never replaced (the same instance sent
twice is recognised and not analysed twice). The forwarding thread retries what may pass later
(no answer, queue full, server restarting) a few times; the server's answer, or the last error,
is written next to the still.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

from ..errors import InputError, OrthoAIError
from .fetal_client import FetalServerClient, ServerError, summary_line
from .fetal_server import stderr_line, write_bytes_atomically

US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
US_IMAGE_RETIRED = "1.2.840.10008.5.1.4.1.1.6"
US_MULTIFRAME_RETIRED = "1.2.840.10008.5.1.4.1.1.3"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ACCEPTED_STORAGE = (US_IMAGE, US_MULTIFRAME, US_IMAGE_RETIRED, US_MULTIFRAME_RETIRED, SECONDARY_CAPTURE)
SUCCESS, OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000


def decodable_transfer_syntaxes() -> list[str]:
    """Uncompressed syntaxes, then the compressed ones this installation's pydicom can decode."""
    from pydicom import uid

    syntaxes = [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian,
                uid.ExplicitVRBigEndian]
    try:
        from pydicom.pixels import get_decoder
    except ImportError:  # pydicom 2: offer uncompressed data only
        return syntaxes
    for syntax in (uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLosslessSV1, uid.JPEGLossless,
                   uid.RLELossless, uid.JPEGLSLossless, uid.JPEGLSNearLossless, uid.JPEG2000Lossless, uid.JPEG2000):
        try:
            if get_decoder(syntax).is_available:
                syntaxes.append(syntax)
        except (NotImplementedError, ValueError):
            continue
    return syntaxes


def _status(code: int, comment: str):
    from pydicom.dataset import Dataset

    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]  # LO
    return status


class DicomListener:
    """The Storage SCP and its forwarding threads; ``start()`` returns at once, ``shutdown()`` stops both."""

    def __init__(self, store_dir: str | Path, client: Optional[FetalServerClient] = None, *, aet: str = "ORTHOAI",
                 allowed: Iterable[str] = (), host: str = "127.0.0.1", port: int = 11112, retries: int = 4,
                 forward_threads: int = 2, uid_salt: Optional[str] = None, log: Callable[[str], None] = stderr_line,
                 out: Callable[[str], None] = print) -> None:
        self.store_dir, self.client = Path(store_dir), client
        self.aet, self.allowed, self.host, self.port = aet, [a.strip() for a in allowed], host, port
        self.retries, self.uid_salt, self.log, self.out = retries, uid_salt, log, out
        self.forward_threads = max(1, forward_threads)
        self.counts = {"received": 0, "stored": 0, "duplicates": 0, "refused": 0, "forwarded": 0, "forward_failed": 0,
                       "not_forwarded": 0}
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self._counts_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._ae = self._server = None

    # -- life cycle -----------------------------------------------------------------------------------------
    def start(self) -> "DicomListener":
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        try:
            self.store_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"--store {self.store_dir}: cannot create it ({error.strerror}).") from None
        ae = AE(ae_title=self.aet)
        ae.require_calling_aet = self.allowed
        ae.maximum_associations = 32
        syntaxes = decodable_transfer_syntaxes()
        for sop_class in ACCEPTED_STORAGE:
            ae.add_supported_context(sop_class, syntaxes)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, self._on_echo),
                    (evt.EVT_REJECTED, self._on_rejected)]
        if self.client is not None:
            for index in range(self.forward_threads):
                thread = threading.Thread(target=self._forward_loop, name=f"orthoai-forward-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)
        try:
            self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except OSError as error:
            self.shutdown()
            raise OrthoAIError(f"cannot listen on {self.host}:{self.port} ({error.strerror or error}); "
                               "choose another --port.") from None
        self._ae = ae
        self.port = self._server.server_address[1]
        allowed = ", ".join(self.allowed) or "any AE title"
        self.log(f"DICOM listener {self.aet} on {self.host}:{self.port}, accepting {allowed}; storing in {self.store_dir}")
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def wait_idle(self, timeout_s: Optional[float] = None) -> bool:
        """True once every stored still has been forwarded (or given up on)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def shutdown(self, drain_timeout_s: float = 0.0) -> None:
        """Stop accepting associations; forward what is queued for up to ``drain_timeout_s``; stop."""
        if self._ae is not None:
            self._ae.shutdown()
            self._ae = None
        if drain_timeout_s > 0:
            self.wait_idle(drain_timeout_s)
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        if self.counts["not_forwarded"]:
            self.log(f"{self.counts['not_forwarded']} stored still(s) were not forwarded; they stay in {self.store_dir}")

    def _count(self, name: str) -> None:
        with self._counts_lock:  # the handlers run in one thread per association
            self.counts[name] += 1

    # -- DICOM events ---------------------------------------------------------------------------------------
    def _on_echo(self, event) -> int:
        return SUCCESS

    def _on_rejected(self, event) -> None:
        requestor = event.assoc.requestor
        self.log(f"rejected an association from {requestor.ae_title!r} at {requestor.address} "
                 f"(allowed: {', '.join(self.allowed) or 'any'})")

    def _on_store(self, event):
        calling = event.assoc.requestor.ae_title
        self._count("received")
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
            modality = str(dataset.get("Modality", "") or "").upper()
        except Exception as error:  # noqa: BLE001  (a damaged data set raises anything when parsed)
            self._count("refused")
            self.log(f"refused an object from {calling}: it cannot be parsed ({' '.join(str(error).split())[:120]})")
            return _status(CANNOT_UNDERSTAND, "data set cannot be parsed")
        if modality != "US":
            self._count("refused")
            self.log(f"refused {dataset.SOPClassUID.name} from {calling}: modality {modality or 'missing'} is not "
                     "ultrasound (US); nothing stored")
            return _status(CANNOT_UNDERSTAND, f"only ultrasound (US) is accepted, not {modality or 'none'}")
        try:
            path, duplicate = self._store(dataset)
        except OSError as error:
            self.log(f"error: cannot store a still from {calling} in {self.store_dir} ({error.strerror or error})")
            return _status(OUT_OF_RESOURCES, "cannot store the object")
        except Exception as error:  # noqa: BLE001  (de-identification or encoding of a malformed object)
            self._count("refused")
            self.log(f"refused an object from {calling}: {' '.join(str(error).split())[:160]}")
            return _status(CANNOT_UNDERSTAND, "object cannot be de-identified or stored")
        if duplicate:
            self._count("duplicates")
            self.log(f"{path.name} from {calling} was already stored; not analysed again")
            return SUCCESS
        self._count("stored")
        if str(dataset.get("BurnedInAnnotation", "")).upper() == "YES":
            self.log(f"note: {path.name} has burned-in annotation; its pixels may show identifying text")
        if self.client is not None:
            with self._idle:
                self._pending += 1
            self._queue.put((path, calling))
        return SUCCESS

    def _store(self, dataset) -> tuple[Path, bool]:
        """``(path, already stored)``: the de-identified still in the store, never over another file."""
        from ..io.dicom_reports import dataset_bytes, deidentify

        clean = deidentify(dataset, uid_salt=self.uid_salt)
        data = dataset_bytes(clean)
        stem = str(clean.SOPInstanceUID)
        for attempt in range(1, 1000):
            path = self.store_dir / (f"{stem}.dcm" if attempt == 1 else f"{stem}.{attempt}.dcm")
            if write_bytes_atomically(path, data, overwrite=False):
                return path, False
            if path.read_bytes() == data:
                return path, True
        raise OSError(f"too many different objects named {stem}")

    # -- forwarding -----------------------------------------------------------------------------------------
    def _forward_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self._stopping.is_set():  # shutting down: the still stays stored, unanalysed
                    self._count("not_forwarded")
                    continue
                self._forward(*item)
            except Exception as error:  # noqa: BLE001  (one still must not stop the forwarding)
                self._count("forward_failed")
                self.log(f"error: forwarding {item[0].name} failed ({' '.join(str(error).split())[:200]})")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _forward(self, path: Path, calling: str) -> None:
        data = path.read_bytes()
        stem = path.name[: -len(".dcm")]
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                response = self.client.analyse(data, path.name, source=f"{calling}: {path.name}")
                break
            except ServerError as error:
                if not error.transient or attempt == self.retries or self._stopping.is_set():
                    self._count("forward_failed")
                    self._write(path.parent / f"{stem}.fetal.json", {"error": str(error), "status": error.status})
                    self.log(f"error: {path.name} was not analysed: {error}")
                    return
                time.sleep(min(error.retry_after_s or delay, 30.0))
                delay *= 2
        self._count("forwarded")
        self._write(path.parent / f"{stem}.fetal.json", response)
        self.out(summary_line({**response, "source": f"{calling}: {path.name}"}))

    def _write(self, path: Path, document: dict) -> None:
        write_bytes_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))


def make_listener(port: int = 0, aet: str = "ORTHOAI", allowed: Iterable[str] = (), store_dir: str | Path = "dicom-store",
                  server_url: Optional[str] = None, token: Optional[str] = None, *, host: str = "127.0.0.1",
                  forward_timeout_s: float = 600.0, **options) -> DicomListener:
    """A started listener (non-blocking; ``.shutdown()`` stops it). Without ``server_url`` it only stores.
    ``forward_timeout_s``: how long one still may take at the server (its queue included)."""
    client = FetalServerClient(server_url, token, analyse_timeout_s=forward_timeout_s) if server_url else None
    return DicomListener(store_dir, client, aet=aet, allowed=allowed, host=host, port=port, **options).start()
