"""The inference server's two stages behind its queue: the inference worker and the publisher.

One inference worker thread runs the pipeline, so the models are never used by two threads at
once and concurrent stills wait in one bounded queue instead of being lost. A publisher thread
encodes each result's pictures (they take about as long as the inference) and sends results back
while the worker analyses the next still. Both stages take their work in order, so results are
published in the order of arrival with increasing ids, and a feed reader that asks for everything
after the last id it saw never misses one. Also here: the job a request hands to the queue, the
DICOM send-back (Secondary Capture and Structured Report by C-STORE) and the pipeline's warm-up.
"""

from __future__ import annotations

import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..errors import InputError, ModelError
from .fetal_results import Log, utc_now

if TYPE_CHECKING:  # only for annotations: the server module imports this one
    from .fetal_server import FetalServer


@dataclass
class Job:
    """One still on its way through the queue; the request thread waits on ``done`` for its answer."""
    data: bytes
    filename: str
    source: str
    pixel_size_mm: Optional[float]
    ga_weeks: Optional[float]
    received_utc: str = field(default_factory=utc_now)
    done: threading.Event = field(default_factory=threading.Event)
    response: Optional[dict] = None
    error: Optional[tuple[int, str]] = None

    def fail(self, status: int, message: str) -> None:
        self.error = (status, " ".join(str(message).split()))
        self.done.set()


def still_png(plane) -> bytes:
    """The grey still as an 8-bit PNG (its own range stretched), for viewers that cannot show DICOM."""
    import numpy as np

    from .fetal import png_bytes

    low, high = float(plane.min()), float(plane.max())
    return png_bytes(((plane - low) / max(high - low, 1e-6) * 255).round().astype(np.uint8))


class InferenceWorker(threading.Thread):
    """The one thread that runs the pipeline: reads each queued still, analyses it, and hands the analysis
    to the publisher. Encoding pictures and sending results back happen there, so the models do not
    wait for them; both stages take their work in order, so results keep the order of arrival."""

    def __init__(self, server: FetalServer) -> None:
        super().__init__(name="orthoai-inference", daemon=True)
        self.server = server
        self.busy = False
        self.mean_seconds = 1.0

    def run(self) -> None:
        while True:
            job = self.server.jobs.get()
            if job is None:
                self.server.published.put(None)
                return
            self.busy, started = True, time.perf_counter()
            try:
                analysis = self._analyse(job)
                if analysis is not None:
                    self.server.published.put((job, analysis))  # blocks when the publisher lags: bounded memory
            except Exception:  # noqa: BLE001  (a failed still must never stop the worker)
                self.server.log(f"error: analysis of the still received at {job.received_utc} failed:\n"
                                f"{traceback.format_exc().rstrip()}")
                self.server.results.count_failure()
                job.fail(500, "internal error while analysing the still; the server log has the details")
            finally:
                self.mean_seconds = 0.8 * self.mean_seconds + 0.2 * (time.perf_counter() - started)
                self.busy = False

    def _analyse(self, job: Job):
        """The still's ``FetalAnalysis``, or None after answering the job (unreadable still, no models)."""
        from ..io.ultrasound import read_still
        from ..pipelines.fetal.pipeline import FetalOptions
        from .fetal import FetalAnalysis

        with tempfile.TemporaryDirectory(prefix="orthoai-serve-") as folder:  # the readers take files
            path = Path(folder) / job.filename
            path.write_bytes(job.data)
            try:
                still = read_still(path, job.pixel_size_mm)  # an unreadable still is the client's error, models or not
            except InputError as error:
                self.server.results.count_failure()
                job.fail(400, str(error))
                return None
        try:
            pipeline = self.server.pipeline()
        except ModelError as error:
            self.server.results.count_failure()
            job.fail(503, f"the fetal models are not available: {error}")
            return None
        result = pipeline.run(still.image, FetalOptions(job.ga_weeks))
        return FetalAnalysis(result, still.image.plane, still.warnings)


class Publisher(threading.Thread):
    """Encodes an analysis's pictures, sends DICOM results back, stores and announces the result."""

    def __init__(self, server: FetalServer) -> None:
        super().__init__(name="orthoai-publisher", daemon=True)
        self.server = server

    def run(self) -> None:
        while True:
            item = self.server.published.get()
            if item is None:
                return
            job, analysis = item
            try:
                self._publish(job, analysis)
            except Exception:  # noqa: BLE001  (one result must never stop the publication of the others)
                self.server.log(f"error: publishing the still received at {job.received_utc} failed:\n"
                                f"{traceback.format_exc().rstrip()}")
                self.server.results.count_failure()
                job.fail(500, "internal error while publishing the result; the server log has the details")
            finally:
                job.done.set()

    def _publish(self, job: Job, analysis) -> None:
        document = analysis.to_json()
        files = {"heatmap": analysis.heatmap_png(), "mask": analysis.mask_png(), "still": still_png(analysis.plane)}
        if self.server.send_to is not None and job.filename.endswith(".dcm"):
            document["warnings"] += self.server.send_back(job, analysis, document)
        entry = self.server.results.add(job, document, files)
        job.response = {"id": entry.id, "result": document, "files": entry.file_urls()}


def send_results_back(job: Job, analysis, document: dict, send_to: tuple[str, int, str], calling_aet: str,
                      log: Log) -> list[str]:
    """C-STORE the Secondary Capture and the report of a DICOM still to ``send_to`` (host, port, AE
    title); a failure is a warning of the result, not a failed still."""
    import io

    import pydicom

    from ..io.dicom_reports import measurement_report, secondary_capture
    from .fetal_client import send_datasets

    host, port, aet = send_to
    try:
        source = pydicom.dcmread(io.BytesIO(job.data), stop_before_pixels=True)
        datasets = [measurement_report(document, source)]
        if analysis.heatmap_rgb is not None:
            datasets.insert(0, secondary_capture(analysis.heatmap_rgb, source))
        statuses = send_datasets(datasets, host, port, aet, calling_aet=calling_aet, timeout_s=10.0)
    except Exception as error:  # noqa: BLE001  (network, peer or encoding: never the server's end)
        message = f"send_failed: the results were not sent to {aet}@{host}:{port} ({' '.join(str(error).split())})"
        log(message)
        return [message]
    refused = [f"0x{s:04X}" for s in statuses if s != 0]
    if refused:
        message = f"send_failed: {aet}@{host}:{port} refused {len(refused)} of {len(statuses)} objects ({', '.join(refused)})"
        log(message)
        return [message]
    log(f"sent {len(statuses)} objects (still received at {job.received_utc}) to {aet}@{host}:{port}")
    return []


_warmed: set[int] = set()


def warm_up(pipeline):
    """Run the pipeline twice on a synthetic still: TorchScript optimises a model during its first runs,
    which would otherwise make the first stills of a session seconds slower than the rest. Once per pipeline."""
    if id(pipeline) in _warmed:
        return pipeline
    from ..geometry import radiograph_geometry
    from ..image import Image, ImageOrigin
    from ..phantoms.fetal_us import make_fetal_still

    pixels, _, pixel_size = make_fetal_still(0)
    image = Image(pixels[None].astype("float32"), radiograph_geometry(pixels.shape, (pixel_size, pixel_size)),
                  ImageOrigin("warm-up", "US", "synthetic", True))
    for _ in range(2):
        pipeline.run(image)
    _warmed.add(id(pipeline))
    return pipeline
