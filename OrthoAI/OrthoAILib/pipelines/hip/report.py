"""Measure reports: one CSV row per film and operated side, JSON per film."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable

from .measures import MEASURE_KEYS

CSV_COLUMNS = ("source", "operated_side", *MEASURE_KEYS, *(f"{k}_flag" for k in MEASURE_KEYS), "calibrated",
               "min_confidence", "status")


def csv_rows(case_json: dict) -> list[dict]:
    rows = []
    for side in case_json.get("sides", []):
        row = {"source": case_json["source"], "operated_side": side["operated_side"], "status": side.get("error", "ok") or "ok"}
        for key in MEASURE_KEYS:
            row[key] = side.get(key, "")
            row[f"{key}_flag"] = side.get("flags", {}).get(key, "")
        row["calibrated"] = side.get("calibrated", "")
        row["min_confidence"] = min(side["confidence"].values()) if side.get("confidence") else ""
        rows.append(row)
    return rows


def failure_row(source: str, message: str) -> dict:
    return {"source": source, "status": f"failed: {message}"}


def write_csv(path: str | Path, rows: Iterable[dict]) -> Path:
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_json(path: str | Path, document: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
