# The two quick-start commands: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint system-deps clean

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

lint: $(BIN)/navtalk-sync
	$(BIN)/ruff check navtalk_sync tests examples bench
	$(BIN)/ruff format --check navtalk_sync tests examples bench
	$(BIN)/mypy  # --strict on navtalk_sync (setup.cfg [mypy])

clean:
	rm -rf $(VENV) build *.egg-info
