# The two quick-start commands: `make demo` and `make test`; `make bench` for the benchmarks.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test bench lint system-deps clean

system-deps:
	bash .ci/system-deps

$(BIN)/navtalk-sync: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: system-deps $(BIN)/navtalk-sync  ## a spoken conversation with the bundled local server
	$(BIN)/navtalk-sync demo --out demo-output

test: system-deps $(BIN)/navtalk-sync  ## the whole test suite
	$(BIN)/python -m pytest

bench: system-deps $(BIN)/navtalk-sync  ## the library beside hand-written baselines: one table
	$(BIN)/python -m bench.side_by_side

lint: $(BIN)/navtalk-sync
	$(BIN)/ruff check navtalk_sync tests examples bench
	$(BIN)/ruff format --check navtalk_sync tests examples bench
	$(BIN)/mypy  # --strict on navtalk_sync (setup.cfg [mypy])

clean:
	rm -rf $(VENV) build *.egg-info
