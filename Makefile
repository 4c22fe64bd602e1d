# The two commands a new user needs: `make demo` and `make test`. Both do the whole set-up
# first (Debian packages, .venv, the pjsua2 build, the project); a second set-up takes seconds.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint check serve bench clean

setup: $(STAMP)
	@bash setup/pjsua2.sh $(abspath $(PY))
	@$(PY) -c 'import pjsua2, vosk, pyttsx3, aiomqtt, aiosqlite, asyncpg, webrtcvad' || { echo "setup: imports failed"; exit 1; }

$(STAMP): pyproject.toml setup/system.sh
	@bash setup/system.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/ivr demo

test: setup lint
	$(PY) -m pytest -q -p no:cacheprovider --junitxml=test-output/junit.xml

lint: setup
	$(VENV)/bin/ruff check ivr agents tests bench
	$(VENV)/bin/ruff format --check ivr agents tests bench
	$(VENV)/bin/mypy

serve: setup
	$(VENV)/bin/ivr serve

bench: setup
	$(PY) bench/calls.py
	$(PY) bench/understanding.py
	$(PY) bench/roster.py

clean:
	rm -rf $(VENV) var test-output .mypy_cache .ruff_cache
