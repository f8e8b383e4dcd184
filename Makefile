# One command sets everything up and runs the main job; one sets everything up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
FTS_VENV := .venv-fts
FTS_STAMP := $(FTS_VENV)/.installed-$(shell cat tools/fts-requirements.txt | cksum | cut -d' ' -f1)
WEB_STAMP := web/node_modules/.installed-$(shell cat web/package-lock.json | cksum | cut -d' ' -f1)
# Debian's Chromium drives the browser tests (through Python Playwright, never its own download).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

.PHONY: demo test lint setup clean fts-venv web screenshots

demo: $(STAMP) $(WEB_STAMP)
	$(BIN)/kizuna run examples/indo-pacific.toml --out out/demo

test: $(STAMP) $(FTS_STAMP) $(WEB_STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The README's pictures of the COP and the report, made by the project's own page in Chromium.
screenshots: $(STAMP) $(WEB_STAMP) $(CHROMIUM)
	test -f out/demo/manifest.json || $(MAKE) demo
	$(BIN)/python tools/screenshots.py --recording out/demo --out docs/img

lint: $(STAMP)
	$(BIN)/ruff check .

setup: $(STAMP) $(WEB_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# opendis 1.0 (the DIS peer in tests) pins numpy<2 in its metadata but runs on numpy 2:
	# installed without its dependencies so it cannot downgrade numpy under pandas and numba.
	$(BIN)/python -m pip install --quiet --no-deps 'opendis==1.0'
	rm -f $(VENV)/.installed-*
	touch $@

fts-venv: $(FTS_STAMP)

web: $(WEB_STAMP)

# The COP page's packages (MapLibre, milsymbol, world-atlas, topojson-client, CesiumJS), exactly as
# locked; kizuna.cop serves them from web/node_modules.
$(WEB_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# FreeTAKServer, the TAK server peer of tests/test_interop_freetakserver.py, in its own venv: its
# pins (old Flask, SQLAlchemy, protobuf, cryptography) would fight ours. Rebuilt from scratch
# (~40 s) only when tools/fts-requirements.txt changes.
$(FTS_STAMP): tools/fts-requirements.txt
	rm -rf $(FTS_VENV)
	$(PYTHON) -m venv $(FTS_VENV)
	$(FTS_VENV)/bin/python -m pip install --quiet -r tools/fts-requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(FTS_VENV) web/node_modules out .pytest_cache .ruff_cache .hypothesis
