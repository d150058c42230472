#!/usr/bin/env python3
"""Rewrite the OrthoAI module's MODULE_PYTHON_SCRIPTS list from the files on disk.

Run after adding or removing a library file; Testing/e2e/test_extension.py
fails while the list and the tree disagree.
"""

import re
from pathlib import Path

module = Path(__file__).resolve().parent.parent / "OrthoAI"
cmake = module / "CMakeLists.txt"
# Training code stays in the source tree: Slicer installs only what runs inference.
files = sorted(str(p.relative_to(module)) for package in ("OrthoAILib", "OrthoAIModuleSupport")
               for p in (module / package).rglob("*.py") if "training" not in p.relative_to(module).parts)
listing = "\n".join(["  ${MODULE_NAME}.py", *(f"  {f}" for f in files), "  "])
text = re.sub(r"(set\(MODULE_PYTHON_SCRIPTS\n)(.*?)(\))", lambda m: m.group(1) + listing + m.group(3),
              cmake.read_text(encoding="utf-8"), count=1, flags=re.S)
cmake.write_text(text)
print(f"{len(files)} library files listed in {cmake}")
