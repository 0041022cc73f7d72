# The two commands a newcomer needs:  make run   and   make test
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
TORCH_SPEC ?= $(shell grep -v '^\#' requirements/torch.txt | head -n 1)
STAMP    := $(VENV)/.installed-$(shell cat pyproject.toml requirements/torch.txt | cksum | cut -d' ' -f1)

.PHONY: install run test lint bench pg-start pg-stop clean

$(STAMP):
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

## Run the bot: real Telegram/Discord when TELEGRAM_TOKEN/DISCORD_TOKEN are set, else a demo console.
run: install
	$(BIN)/cohort run

## Run every test (lint, import contracts, unit, adapters, SQLite and PostgreSQL storage).
test: install
	$(BIN)/ruff check bot engine tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	@url=$${COHORT_TEST_PG_URL:-$$(scripts/pg-test-server.sh start 2>/dev/null || true)}; \
	if [ -z "$$url" ]; then echo "PostgreSQL not installed: its tests will be skipped (apt-get install postgresql)"; fi; \
	COHORT_TEST_PG_URL=$$url $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check bot engine tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks (need the bench extras: implicit, and recbole's bundled MovieLens-100k).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet --no-deps recbole
	$(BIN)/python benchmarks/run_all.py

pg-start:
	@scripts/pg-test-server.sh start
pg-stop:
	@scripts/pg-test-server.sh stop

clean:
	rm -rf $(VENV) data build *.egg-info
