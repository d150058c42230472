"""The fetal head measure table: one row per measure, refilled whenever the ellipse changes.

Columns as the hip table's, so both read alike: the value is numeric (empty when it cannot be
given, with the reason in ``Finding``); classes, flags and the status are words in ``Finding``.
The head-shape class comes from the classifier on the model's ellipse; after the user edits the
ellipse, the measures are recomputed but the class is not (that would need the model), and the
table says so.
"""

from __future__ import annotations

from typing import Optional

from ...pipelines.fetal.biometry import (CENTILE_HIGH, CENTILE_LOW, CI_BRACHYCEPHALIC_ABOVE, CI_DOLICHOCEPHALIC_BELOW,
                                         MACROCEPHALY_Z, MICROCEPHALY_Z)
from ...pipelines.fetal.pipeline import Measures
from ...pipelines.fetal.presence import OK
from ..tables import table_from_records

TABLE_COLUMNS = ("Measure", "Key", "Value", "Unit", "Reference", "Finding")
STATUS_ATTRIBUTE = "OrthoAI.Status"
NEEDS_PIXEL_SIZE = "needs the pixel size"


def _row(measure: str, key: str, value=None, unit: str = "", reference: str = "", finding: str = "") -> dict:
    return {"Measure": measure, "Key": key, "Value": value, "Unit": unit, "Reference": reference, "Finding": finding}


def _rounded(value: Optional[float], digits: int) -> Optional[float]:
    return None if value is None else round(float(value), digits)


def _flags_among(flags: tuple[str, ...], names: tuple[str, ...]) -> str:
    return "; ".join(flag for flag in flags if flag in names)


def _growth_reason(measures: Measures, ga_weeks: Optional[float]) -> str:
    """Why there is no z-score or centile ("" when there is one)."""
    if measures.growth is not None:
        return ""
    if ga_weeks is None:
        return "needs the gestational age"
    if measures.biometry is None:
        return NEEDS_PIXEL_SIZE
    return "; ".join(w for w in measures.warnings if w.startswith("ga_")) or "outside the growth standard"


def measure_rows(measures: Measures, *, shape_class: Optional[str] = None, class_probability: Optional[float] = None,
                 ga_weeks: Optional[float] = None, edited: bool = False) -> list[dict]:
    """Rows for a measured head: biometry, growth against the standard, class, flags and status."""
    b, g = measures.biometry, measures.growth
    a_px, b_px = measures.ellipse.semi_axes_px
    ci = b.cephalic_index if b else (100.0 * b_px / a_px if a_px > 0 else None)
    lengths = [(label, key, getattr(b, key) if b else None) for label, key in (
        ("Head circumference (HC)", "hc_mm"), ("Biparietal diameter (BPD)", "bpd_mm"),
        ("Occipitofrontal diameter (OFD)", "ofd_mm"))]
    rows = [_row(label, key, _rounded(value, 2), "mm", finding="" if b else NEEDS_PIXEL_SIZE)
            for label, key, value in lengths]
    rows.append(_row("Cephalic index (CI)", "cephalic_index", _rounded(ci, 2), "%",
                     f"{CI_DOLICHOCEPHALIC_BELOW:g}-{CI_BRACHYCEPHALIC_ABOVE:g}", measures.cephalic_index_class))
    growth_reason = _growth_reason(measures, ga_weeks)
    rows.append(_row("Gestational age", "ga_weeks", _rounded(g.ga_weeks if g else ga_weeks, 2), "weeks",
                     finding="" if g or ga_weeks is not None else "not given"))
    rows.append(_row("HC z-score", "hc_z_score", _rounded(g.z_score if g else None, 2), "SD",
                     f"above {MICROCEPHALY_Z:g}, below {MACROCEPHALY_Z:g}",
                     _flags_among(measures.flags, ("microcephaly_suspected", "macrocephaly_suspected")) if g else growth_reason))
    rows.append(_row("HC centile", "hc_centile", _rounded(g.centile if g else None, 1), "centile",
                     f"{CENTILE_LOW:g}-{CENTILE_HIGH:g}",
                     _flags_among(measures.flags, ("hc_below_3rd_centile", "hc_above_97th_centile")) if g else growth_reason))
    on_model = " (classifier, on the model's ellipse)" if edited else " (classifier)"
    rows.append(_row("Head shape class", "class", finding=(shape_class + on_model) if shape_class else "not classified"))
    rows.append(_row("Class probability", "class_probability", _rounded(class_probability, 3)))
    rows.append(_row("Flags", "flags", finding="; ".join(measures.flags) or "none"))
    status = "ok: measured on the edited ellipse" if edited else "ok"
    rows.append(_row("Status", "status", finding="; ".join((status,) + measures.warnings)))
    return rows


def refusal_rows(status: str, message: str) -> list[dict]:
    """A still where no head was measured: what was found, and nothing else."""
    return [_row("Status", "status", finding=status), _row("Message", "message", finding=message)]


def status_text(rows: list[dict]) -> str:
    return next(row["Finding"] for row in rows if row["Key"] == "status")


def update_measures_table(table_node, measures: Optional[Measures], *, shape_class: Optional[str] = None,
                          class_probability: Optional[float] = None, ga_weeks: Optional[float] = None,
                          edited: bool = False, status: str = OK, message: str = "", scene=None):
    """Refill ``table_node`` with the measures (or, with none, the status and message); returns the
    status line, also stored on the table (attribute ``OrthoAI.Status``)."""
    if measures is None:
        rows = refusal_rows(status if status != OK else "not_measured", message)
    else:
        rows = measure_rows(measures, shape_class=shape_class, class_probability=class_probability,
                            ga_weeks=ga_weeks, edited=edited)
    table_from_records(rows, table_node.GetName(), scene or table_node.GetScene(), table_node, TABLE_COLUMNS)
    text = status_text(rows) if measures is not None else f"{rows[0]['Finding']}: {message}"
    table_node.SetAttribute(STATUS_ATTRIBUTE, text)
    return text
