# Tribune: one command per job. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalled whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-dev
PORT ?= 8000
SPEED ?= 2

.DEFAULT_GOAL := help
.PHONY: help demo test lint audit eval serve clean

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Tribune needs Python 3.11 or newer ($(PYTHON) is older); set PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP) ## Set up and run the demo: a recorded chat replayed live, on 127.0.0.1:$(PORT)
	$(BIN)/tribune demo --port $(PORT) --speed $(SPEED)

# Both runs always go to the end, so one report shows every failure; either one failing fails.
# The PostgreSQL run refuses to start (it does not skip) when the server is unreachable.
test: $(STAMP) ## Set up and run the whole suite on SQLite, then on PostgreSQL (127.0.0.1:5432)
	@test -x /usr/bin/chromium || echo "note: browser tests need Debian's chromium (apt-get install chromium); .ci/run installs it"
	@status=0; \
	echo "==> The suite on SQLite"; \
	TRIBUNE_TEST_DATABASE=sqlite $(BIN)/pytest || status=1; \
	echo "==> The suite on PostgreSQL (TRIBUNE_TEST_DATABASE=postgresql)"; \
	TRIBUNE_TEST_DATABASE=postgresql $(BIN)/pytest || status=1; \
	exit $$status

lint: $(STAMP) ## ruff (style and security rules) and mypy strict
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/mypy

audit: $(STAMP) ## pip-audit of the installed dependencies (needs PyPI's JSON API or OSV)
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

eval: $(STAMP) ## Score triage against the labelled set in eval/ (precision, recall, macro-F1, duplicates)
	$(BIN)/python -m app.triage.evaluate eval/triage.jsonl

serve: $(STAMP) ## Migrate and serve with the settings in the environment (TRIBUNE_*)
	$(BIN)/tribune serve

clean: ## Remove the virtualenv, caches and local databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info tribune.db* tribune-demo.db*
