# One virtualenv (.venv) holds nnkit (editable) and its test tools; every target installs into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"

demo: install
	$(BIN)/nnkit train configs/digits_cnn.yaml

test: install
	$(BIN)/python -m ruff check nnkit tests examples bench
	$(BIN)/python -m pytest

lint: install
	$(BIN)/python -m ruff check nnkit tests examples bench
	$(BIN)/python -m ruff format --check nnkit tests examples bench

# The side-by-side suite (about 30 minutes): bench/results.json, the table in bench/README.md, bench/ratios.png.
# `make bench BENCH_ARGS=--quick` is a smoke run of a few minutes that leaves those files alone.
bench: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	$(BIN)/python bench/suite.py $(BENCH_ARGS)
	$(BIN)/python bench/functional.py $(if $(findstring --quick,$(BENCH_ARGS)),--quick,)
	$(BIN)/python bench/second_order.py $(if $(findstring --quick,$(BENCH_ARGS)),--quick,)
	$(BIN)/python bench/stacked_search.py $(if $(findstring --quick,$(BENCH_ARGS)),--quick,)
