# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - creates .venv, installs everything, runs the demo into out/demo
#   make test   - creates .venv, installs everything, runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of torch, installed before the package so that nothing pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.orthoai-installed

.PHONY: setup demo test bench clean

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

bench: $(STAMP)
	$(BIN)/python Testing/benchmarks/bench_hip_measures.py
	$(BIN)/python Testing/benchmarks/bench_model_runtime.py
	$(BIN)/python Testing/benchmarks/bench_hip_pipeline.py
	$(BIN)/orthoai hip-benchmark --cases 200

clean:
	rm -rf $(VENV) out build *.egg-info
