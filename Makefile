# 行政執行資料交換平台 aedx — set-up and everyday commands.
# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := .demo

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Until the exchange server lands, `make run` validates a generated day of referrals and
# prints the report, so an officer sees what the platform would answer.
run: $(STAMP)
	mkdir -p $(DEMO)
	$(BIN)/aedx sim generate --kind case_referral --records 20000 --error-rate 0.01 \
		--seed 7 --out $(DEMO)/case_referral.csv --truth $(DEMO)/truth.csv
	@# exit 1 means "errors found", which is the point of the demonstration
	$(BIN)/aedx validate --kind case_referral $(DEMO)/case_referral.csv --sender A383000000 \
		--report $(DEMO)/report.xlsx || test $$? -eq 1
	@echo "完整報告 full report: $(DEMO)/report.xlsx；答案檔 planted errors: $(DEMO)/truth.csv"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/validate.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
