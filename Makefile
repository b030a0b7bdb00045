# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= demo-data
PORT ?= 8000
RECORDS ?= 1000
WORKERS ?= 2

.PHONY: demo test venv test-deps lint typecheck unit bench bench-all clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The project and its runtime dependencies, within constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/civic demo --data $(DATA) --port $(PORT) --records $(RECORDS)

# Debian's PostgreSQL server for the storage tests, Debian's belenios-tool (the independent
# Belenios implementation the secret-ballot tests run) and Debian's chromium for the
# browser tests: each installed once, if absent; Playwright never downloads a browser.
test-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql server"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@missing=""; \
	command -v belenios-tool >/dev/null 2>&1 || missing="$$missing belenios-tool"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test test-deps
	$(BIN)/python -m pytest -n $(WORKERS) -q

test: lint typecheck unit

bench: $(VENV)/.installed-test
	$(BIN)/python bench/bench_log.py

# Every benchmark at its --quick size (under 10 minutes on 2 cores): bench/results.json.
bench-all: $(VENV)/.installed-test test-deps
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DATA) .mypy_cache .pytest_cache .ruff_cache .hypothesis
