# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export QIANSHOU_DATABASE_URL ?= sqlite:///data/qianshou.db
export QIANSHOU_TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-fast install demo bench-smoke clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## start on SQLite (or QIANSHOU_DATABASE_URL) with demo data
	$(BIN)/qianshou demo
	$(BIN)/qianshou serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP) browser  ## every test, on SQLite and on PostgreSQL
	$(BIN)/python -m pytest -n 2 --dist loadgroup

.PHONY: fuzz
fuzz: $(STAMP)  ## schemathesis, all phases, 50 examples an operation, on SQLite and PostgreSQL
	QIANSHOU_FUZZ=full $(BIN)/python -m pytest tests/e2e/test_fuzz.py -k test_full_fuzz -s -p no:warnings

.PHONY: test-faults
test-faults: $(STAMP)  ## kill -9, PostgreSQL restart, retries, floods: real processes (~3 min)
	$(BIN)/python -m pytest -m faults tests/faults -n 2 -rP -p no:warnings

demo: $(STAMP)
	$(BIN)/qianshou demo

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis

.PHONY: bench
bench: $(STAMP)  ## commands and projection rebuild on SQLite and PostgreSQL (many minutes)
	$(BIN)/python -m bench

bench-smoke: $(STAMP)  ## the same at small sizes, in under 2 minutes
	$(BIN)/python -m bench --smoke

.PHONY: bench-http
bench-http: $(STAMP)  ## HTTP commands vs bare, projection lag, a 10-minute memory soak (~15 min)
	$(BIN)/python -m bench.http
	$(BIN)/python -m bench.lag
	$(BIN)/python -m bench.soak

# Debian's Chromium for the browser tests (tests/browser, Playwright with executable_path);
# never `playwright install`, which downloads a browser build of its own.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: browser screenshots
browser:  ## install /usr/bin/chromium and CJK fonts when they are missing
	@{ test -x /usr/bin/chromium && fc-list :lang=zh | grep -q .; } || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; }

screenshots: $(STAMP) browser  ## docs/screenshots/*.png of the main pages at 360 px wide
	$(BIN)/python -m tests.browser.screenshots
