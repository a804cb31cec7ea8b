# Clipstream — the two commands: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | md5sum | cut -c1-8)
PORT ?= 8000
export DEBUG ?= 1

# Tests use the real PostgreSQL and Redis on this machine unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/clipstream
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test lint format venv sysdeps sysdeps-test bench clean

run: venv sysdeps
	@$(PY) manage.py runstack --port $(PORT)

test: venv sysdeps-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=0 DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' || \
		{ echo "Clipstream needs Python 3.11 or newer as '$(PYTHON)' (set PYTHON=...)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

# System packages: installed when missing and we may (root, apt-get). Without ffmpeg on PATH the
# app falls back to the binary in the imageio-ffmpeg wheel, so this never blocks `make run`.
APT_RUN := $(if $(shell command -v ffmpeg),,ffmpeg) \
	$(if $(wildcard /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf),,fonts-dejavu-core)
APT_TEST := $(APT_RUN) $(if $(wildcard /usr/bin/chromium),,chromium)

sysdeps:
	@$(call apt_install,$(strip $(APT_RUN)),optional)

sysdeps-test:
	@$(call apt_install,$(strip $(APT_TEST)),required)

# $(1): packages, $(2): optional|required. Needs root and apt-get; otherwise says what is missing.
define apt_install
	if [ -n "$(1)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing system packages: $(1)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
	  elif [ "$(2)" = required ]; then \
	    echo "Missing system packages: $(1). Install them (apt-get install $(1)) and re-run."; exit 1; \
	  else \
	    echo "note: $(1) not installed (not root); using the ffmpeg from the imageio-ffmpeg wheel."; \
	  fi; \
	fi
endef

bench: venv sysdeps-test
	$(PY) bench/transcode_bench.py
	$(PY) bench/feed_bench.py

clean:
	rm -rf var/ .pytest_cache .ruff_cache
