# The two README commands: `make demo` and `make test`. Both create .venv, install, then run.
# torch is installed first, pinned (TORCH); on a GPU machine: make demo TORCH=torch. TORCH_INDEX picks a wheel
# index, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU-only build on a machine without a GPU.
PYTHON ?= python3
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sciml demo

lint: $(STAMP)
	$(BIN)/ruff check sciml tests benchmarks
	$(BIN)/ruff format --check sciml tests benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/trainer_overhead.py
	$(BIN)/python benchmarks/data_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache demo_run
