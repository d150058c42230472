# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - creates .venv, installs everything, runs the demo into out/demo
#   make test   - creates .venv, installs everything, runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch, installed before the package so that nothing pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.orthoai-installed
# The shipped models must load and agree with their reference outputs in the oldest torch
# supported (Slicer 5.8's Python 3.9 stops at torch 2.8): checked in a separate environment.
COMPAT_VENV := .venv-compat
COMPAT_TORCH_SPEC ?= torch==2.2.2
# PyTorch's CPU-only wheels; where that index cannot be reached, PyPI's wheel (which brings
# CUDA libraries, unused here) is installed instead.
COMPAT_TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# named after the torch it holds, so that another COMPAT_TORCH_SPEC builds the environment afresh
COMPAT_STAMP := $(COMPAT_VENV)/.installed-$(subst ==,-,$(COMPAT_TORCH_SPEC))

.PHONY: setup demo test compat bench clean

$(STAMP): pyproject.toml
	@bash scripts/check-system-libs.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/orthoai demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory compat

$(COMPAT_STAMP):
	rm -rf $(COMPAT_VENV)
	$(PYTHON) -m venv $(COMPAT_VENV)
	@if $(PYTHON) -c "import urllib.request; urllib.request.urlopen('$(COMPAT_TORCH_INDEX)/torch/', timeout=15)" 2>/dev/null; \
	then index="--extra-index-url $(COMPAT_TORCH_INDEX)"; \
	else index=""; echo "$(COMPAT_TORCH_INDEX) cannot be reached: installing PyPI's torch wheel"; fi; \
	set -x; $(COMPAT_VENV)/bin/python -m pip install --quiet $$index "$(COMPAT_TORCH_SPEC)" "numpy<2"
	@touch $(COMPAT_STAMP)

compat: $(COMPAT_STAMP)
	$(COMPAT_VENV)/bin/python Testing/compat/check_models.py

bench: $(STAMP)
	$(BIN)/python Testing/benchmarks/bench_hip_measures.py
	$(BIN)/python Testing/benchmarks/bench_model_runtime.py
	$(BIN)/python Testing/benchmarks/bench_hip_pipeline.py
	$(BIN)/python Testing/benchmarks/bench_hip_outputs.py
	$(BIN)/python Testing/benchmarks/bench_batch_memory.py
	$(BIN)/python Testing/benchmarks/bench_fetal_pipeline.py
	$(BIN)/python Testing/benchmarks/bench_fetal_server.py
	$(BIN)/python Testing/benchmarks/bench_endoscopy_pipeline.py
	$(BIN)/python -m OrthoAILib.pipelines.knee.training.benchmark --knees 4
	$(BIN)/python -m OrthoAILib.pipelines.fracture.training.benchmark --cases 16 --speed
	$(BIN)/orthoai hip-benchmark --cases 200

clean:
	rm -rf $(VENV) $(COMPAT_VENV) out build *.egg-info
