"""Hip measure reports: one CSV row per film and operated side, from the case's JSON document.

The batch's rows (``HipCaseResult.csv_rows``) and the HipTHA module's export of
corrected points (a document built from the scene) go through the same function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ...io.reports import write_csv as write_rows
from ..base import joined
from .measures import MEASURE_KEYS

CSV_COLUMNS = ("input", "source", "operated_side", *MEASURE_KEYS, *(f"{k}_flag" for k in MEASURE_KEYS), "calibrated",
               "min_confidence", "status", "warnings")


def csv_rows(case_json: dict) -> list[dict]:
    """Rows of a case document (``HipCaseResult.to_json()`` or the module's report document)."""
    rows = []
    for side in case_json.get("sides", []):
        status = side.get("status") or ("failed" if side.get("error") else "ok")
        side_warnings = side.get("warnings", []) or ([side["error"]] if side.get("error") else [])
        row = {"source": case_json.get("source", ""), "operated_side": side["operated_side"], "status": status,
               "calibrated": side.get("calibrated", ""),
               "min_confidence": min(side["confidence"].values()) if side.get("confidence") else "",
               "warnings": joined((*case_json.get("warnings", []), *side_warnings))}
        for key in MEASURE_KEYS:
            row[key] = side.get(key, "")
            row[f"{key}_flag"] = side.get("flags", {}).get(key, "")
        rows.append(row)
    measured = {row["operated_side"] for row in rows}
    for refusal in case_json.get("refused", []):  # a side (or the film) not measured: a row that says why
        if refusal["side"] not in measured:
            others = [w for w in case_json.get("warnings", []) if w != refusal["message"]]
            rows.append({"source": case_json.get("source", ""), "operated_side": refusal["side"],
                         "status": refusal["status"], "warnings": joined((refusal["message"], *others))})
    if not rows:
        rows.append({"source": case_json.get("source", ""), "operated_side": "", "status": case_json.get("status", ""),
                     "warnings": joined(case_json.get("warnings", []))})
    return rows


def write_csv(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_rows(path, rows, CSV_COLUMNS)
