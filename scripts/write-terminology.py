"""Write OrthoAI/Resources/Terminology/OrthoAI-Bones.term.json, the bones' anatomic context that the
OrthoAI module loads into Slicer, from ``pipelines.fracture.bones.terminology_context()``.

    .venv/bin/python scripts/write-terminology.py

Run after changing the bones; Testing/core/test_fracture_terminology.py fails while the shipped file
and the code disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TERMINOLOGY_FILE = REPO / "OrthoAI" / "Resources" / "Terminology" / "OrthoAI-Bones.term.json"


def main() -> None:
    from OrthoAILib.pipelines.fracture.bones import terminology_context

    TERMINOLOGY_FILE.parent.mkdir(parents=True, exist_ok=True)
    TERMINOLOGY_FILE.write_text(json.dumps(terminology_context(), indent=2) + "\n", encoding="utf-8")
    print(TERMINOLOGY_FILE)


if __name__ == "__main__":
    main()
