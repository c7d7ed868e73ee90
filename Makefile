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

bench: install
	$(BIN)/python bench/bench_fit.py
