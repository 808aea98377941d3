# The two quick-start commands: `make demo` and `make test`; `make bench` for the benchmarks,
# `make docs` for the documentation site, `make versions` for the other supported Pythons.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test dist versions docs bench lint system-deps clean

system-deps:
	bash .ci/system-deps

$(BIN)/navtalk-sync: setup.cfg setup.py pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: system-deps $(BIN)/navtalk-sync  ## a spoken conversation with the bundled local server
	$(BIN)/navtalk-sync demo --out demo-output

# The suite runs against the package as pip installs it: a wheel built from this tree, in a
# virtualenv of its own (.ci/suite). For a quick loop while editing: .venv/bin/pytest tests/...
test: system-deps dist  ## the whole test suite
	bash .ci/suite "$(PYTHON)" --durations=15

dist: $(BIN)/navtalk-sync  ## the sdist and the wheel in build/dist, checked with twine
	VENV=$(VENV) bash .ci/package

versions: system-deps dist  ## a representative part of the suite on Python 3.10, 3.12 and 3.13
	bash .ci/versions

$(BIN)/sphinx-build: setup.cfg | $(BIN)/navtalk-sync
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

docs: system-deps $(BIN)/sphinx-build  ## the documentation site in build/docs; a warning fails it
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs build/docs
	@echo "the site: build/docs/index.html"

bench: system-deps $(BIN)/navtalk-sync  ## the library beside hand-written baselines: one table
	$(BIN)/python -m bench.side_by_side

lint: $(BIN)/navtalk-sync
	$(BIN)/ruff check navtalk_sync tests examples bench
	$(BIN)/ruff format --check navtalk_sync tests examples bench
	$(BIN)/mypy  # --strict on navtalk_sync (setup.cfg [mypy])

clean:
	rm -rf $(VENV) build *.egg-info
