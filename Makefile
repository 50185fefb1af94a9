# 行政執行資料交換平台 aedx — set-up and everyday commands.
# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := .demo
PORT   ?= 8000

SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint typecheck unit soak bench clean postgres-binaries command-line-tools browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make run` starts the embedded platform (SQLite, a local folder, an in-process worker) and the
# agencies' and branches' servers (a reference system and aedx-client each), which exchange the last
# three days through it on their own and again every ten minutes; it prints the URL and sign-ins.
run: $(STAMP)
	$(BIN)/aedx demo --serve --days 3 --every 600 --data-dir $(DEMO) --port $(PORT)

# tools/sql_lint.py: no SQL text built from strings (stricter than ruff's S608).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/python tools/sql_lint.py src

typecheck: $(STAMP)
	$(BIN)/mypy

# The database tests run on SQLite and on a throwaway PostgreSQL that the tests start on loopback
# from the machine's server binaries; these are installed here when missing.
postgres-binaries:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		echo "installing the PostgreSQL server binaries"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# The interoperability tests drive the openssl and curl command lines, as an agency would.
command-line-tools:
	@command -v openssl >/dev/null && command -v curl >/dev/null || { \
		echo "installing openssl and curl"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl curl >/dev/null; }

# The portal tests drive Debian's Chromium with Playwright (Playwright's own browser download is not
# used); CJK fonts make the screenshots legible.
browser:
	@test -x /usr/bin/chromium && fc-list :lang=zh-tw 2>/dev/null | grep -q . || { \
		echo "installing Chromium and CJK fonts"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# Two test processes (each its own PostgreSQL and Chromium), each taking the next test when free.
unit: $(STAMP) postgres-binaries command-line-tools browser
	$(BIN)/pytest -q -n 2 --dist worksteal

test: lint typecheck unit

# The long loops at full size (a simulated month through the client, a thousand files from fifty
# clients, twenty worker kills); `make test` runs them small.
soak: $(STAMP) postgres-binaries command-line-tools browser
	AEDX_SOAK=1 $(BIN)/pytest -q -m "slow or soak"

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/cms.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/portal.py

clean:
	rm -rf $(VENV) $(DEMO) .aedx .pytest_cache .mypy_cache .ruff_cache
