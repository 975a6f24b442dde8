# Two commands from nothing: `make demo` and `make test`. Both install first if needed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/tts-pipeline
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_run
DEMO_SENTENCES ?= 200
DEMO_MODEL ?= mlp
DEMO_STEPS ?= 4000

# Python 3.10: pyenv's global shim for python3.10 fails when 3.11 is global, so ask
# pyenv for the real interpreter first and fall back to a plain python3.10.
PYTHON310 := $(shell \
  if command -v pyenv >/dev/null 2>&1 && [ -x "$$(pyenv root)/versions/3.10.13/bin/python" ]; then \
    echo "$$(pyenv root)/versions/3.10.13/bin/python"; \
  elif PYENV_VERSION=3.10.13 python3.10 -c '' >/dev/null 2>&1; then echo "env PYENV_VERSION=3.10.13 python3.10"; \
  else echo python3.10; fi)

.PHONY: install demo test test-unit test-e2e lint format bench clean

install: $(STAMP)

# Reinstall only when the dependency pins or the package metadata change.
$(STAMP): pyproject.toml constraints/lock.txt
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"
	$(PY) -m pip install --quiet -c constraints/lock.txt -e ".[test]"
	@touch $(STAMP)

demo: install
	$(CLI) demo-corpus $(DEMO_DIR)/corpus --sentences $(DEMO_SENTENCES) --seed 0
	$(CLI) run --data $(DEMO_DIR)/corpus --output $(DEMO_DIR)/output \
		--model $(DEMO_MODEL) --preset small --train-steps $(DEMO_STEPS)
	$(CLI) synthesize --model-dir $(DEMO_DIR)/output --allow-unblessed -o $(DEMO_DIR)/demo.wav \
		"The quick brown fox paid \$$3.50 for 2 tickets on May 5th, 1999."
	@echo "run summary: $(DEMO_DIR)/output/run_summary.json; audio: $(DEMO_DIR)/demo.wav"

test: install
	$(PY) -m pytest -q -m "not e2e" tests
	$(PY) -m pytest -q -m e2e tests

test-unit: install
	$(PY) -m pytest -q -m "not e2e" tests

test-e2e: install
	$(PY) -m pytest -q -m e2e tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) benchmarks/data_path.py

clean:
	rm -rf $(DEMO_DIR) build *.egg-info
