# One entry point for developers, CI and users. Everything runs inside .venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run demo test lint format bench score soak clean

$(STAMP): requirements.txt requirements-dev.txt
	scripts/ensure-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) app.py

demo: $(STAMP)
	$(PY) app.py --demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint
	scripts/ensure-system.sh --test
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/ensure-system.sh --bench
	$(PY) benchmarks/run_all.py

score: $(STAMP)
	$(PY) benchmarks/score_levels.py

# The app against the simulated market for SOAK_MINUTES (default 30); prints resident memory.
soak: $(STAMP)
	$(PY) scripts/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .artifacts
