"""The FetalUltrasound module's use cases: analyse the still in a volume node, and show the stills the
inference server analyses as they arrive.

Both write through the bridge (``mrml.fetal``); the module only wires buttons and a timer to them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import InputError
from ..pipelines.fetal.pipeline import FetalHeadPipeline, FetalOptions, FetalResult, Measures
from ..pipelines.fetal.presence import OK

GA_RANGE_WEEKS = (5.0, 45.0)


def check_ga_weeks(ga_weeks: Optional[float]) -> None:
    if ga_weeks is not None and not (math.isfinite(ga_weeks) and GA_RANGE_WEEKS[0] <= ga_weeks <= GA_RANGE_WEEKS[1]):
        raise InputError(f"Gestational age {ga_weeks:g} weeks: give the age in weeks ({GA_RANGE_WEEKS[0]:g} to "
                         f"{GA_RANGE_WEEKS[1]:g}, e.g. 22.4), or none.")


def analyse_volume(volume_node, pipeline: FetalHeadPipeline, *, pixel_size_mm: Optional[float] = None,
                   ga_weeks: Optional[float] = None, progress=None, cancel=None):
    """Head ellipse, segmentation, heatmap and measure table for the still in ``volume_node`` (the module's Apply).

    The scene changes only once the pipeline succeeded: Cancel or an error leaves it as it was. A still
    where no head is measured gets only a table with the status and the reason. Returns
    ``(FetalResult, FetalScene)``; the table starts from the pipeline's measures and follows the curve.
    """
    from ..mrml.fetal.scene import add_fetal_results
    from ..mrml.fetal.still import read_still_from_volume

    check_ga_weeks(ga_weeks)
    still = read_still_from_volume(volume_node, pixel_size_mm)
    result = pipeline.run(still.image, FetalOptions(ga_weeks), progress=progress, cancel=cancel)
    if cancel is not None:
        cancel.raise_if_cancelled("Fetal head analysis")
    if still.warnings:
        result = dataclasses.replace(result, warnings=still.warnings + result.warnings)
    fetal = add_fetal_results(volume_node, result, scene=volume_node.GetScene(), ga_weeks=ga_weeks)
    return result, fetal


def summary_text(result: FetalResult, measures: Optional[Measures] = None) -> str:
    """One line for the module's status: the measures (the edited ellipse's when given) or the refusal."""
    if result.status != OK:
        return f"Not measured ({result.status}): {result.message}"
    measures = measures or result.measures
    b = measures.biometry
    a_px, b_px = measures.ellipse.semi_axes_px
    parts = [f"HC {b.hc_mm:.1f} mm, BPD {b.bpd_mm:.1f} mm" if b else "HC needs the pixel size",
             f"CI {b.cephalic_index if b else 100.0 * b_px / a_px:.1f} %"]
    if measures.growth:
        parts.append(f"z {measures.growth.z_score:+.2f} (centile {measures.growth.centile:.1f})")
    if result.shape_class:
        parts.append(f"class {result.shape_class}")
    if measures.flags:
        parts.append("flags: " + ", ".join(measures.flags))
    return "; ".join(parts)


@dataclass(frozen=True)
class ReceivedResult:
    """A server result shown in the scene."""

    id: object
    received_utc: str
    source: str
    fetal: object  # mrml.fetal.scene.FetalScene


class ResultListener:
    """Shows each result the inference server produces, as it arrives.

    ``client`` is a ``FetalServerClient`` (``apps.fetal_client``). ``poll()`` never blocks on the server
    (it asks for results with ``wait_s=0``) and adds at most ``max_per_poll`` results per call, so a
    timer on the GUI thread can drive it; results left over come with the next call. On the first call
    only the latest ``show_existing`` of the results the server already holds are shown. A server that
    cannot be reached is reported in ``error`` and asked again on the next call; a result that cannot be
    shown (its still no longer kept by the server, a damaged picture) is reported and skipped.
    """

    def __init__(self, client, scene=None, *, show_existing: int = 1, max_per_poll: int = 4,
                 on_result: Optional[Callable[[ReceivedResult], None]] = None) -> None:
        self.client = client
        self.scene = scene
        self.show_existing = max(0, int(show_existing))
        self.max_per_poll = max(1, int(max_per_poll))
        self.on_result = on_result
        self.last_id = 0  # the server numbers its results from 1
        self.error = ""
        self.received: list[ReceivedResult] = []
        self._first = True

    def poll(self) -> list[ReceivedResult]:
        from .fetal_client import ServerError

        try:
            items = list(self.client.results_after(self.last_id, wait_s=0))
        except ServerError as error:
            self.error = f"The server cannot be reached: {error}"
            return []
        if self._first:
            self._first = False
            skipped = items[:max(len(items) - self.show_existing, 0)]
            if skipped:
                self.last_id = skipped[-1]["id"]
            items = items[len(skipped):]
        self.error = ""
        added = []
        for item in items[:self.max_per_poll]:
            where = f"Result {item.get('id')} ({item.get('source', '')})"
            try:
                received = self._show(item)
            except ServerError as error:
                if error.transient:  # no answer: the same result is asked for again on the next call
                    self.error = f"{where} could not be fetched: {error}; trying again"
                    break
                self.error = f"{where} cannot be shown: {error}"
            except (InputError, KeyError, TypeError) as error:  # this result cannot be shown; the next may
                self.error = f"{where} cannot be shown: {error}"
            else:
                added.append(received)
                self.received.append(received)
                if self.on_result is not None:
                    self.on_result(received)
            self.last_id = item["id"]
        return added

    def _show(self, item: dict) -> ReceivedResult:
        from ..mrml.fetal.scene import add_remote_result

        document = item["result"]
        kept = item.get("files", {"still": True, **({"mask": True, "heatmap": True} if document.get("status") == OK else {})})
        if "still" not in kept:
            raise InputError("the server no longer keeps its pictures (it keeps those of its latest results only)")
        pictures = {name: self.client.file(item["id"], name) if name in kept else None
                    for name in ("still", "mask", "heatmap")}
        source = str(item.get("source") or document.get("source") or f"still {item['id']}")
        fetal = add_remote_result(self.scene, pictures["still"], document, pictures["heatmap"], pictures["mask"],
                                  name=source)
        return ReceivedResult(item["id"], str(item.get("received_utc", "")), source, fetal)

    def detach(self) -> None:
        """Stop the live links of every result shown (the nodes stay)."""
        for received in self.received:
            received.fetal.detach()
