# The two commands of the README are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STACK := deploy/local/stack
PYTEST_ARGS ?=

.PHONY: run test venv stack stack-down unit lint bench clean

# Stack up, then the pipeline (connector + worker) and a Hopsworks-like workload; leaves it running.
run: venv stack
	deploy/local/run

# Stack up, then the whole suite (unit + integration) against the real servers.
test: venv stack
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

# The virtualenv, rebuilt when pyproject.toml changes.
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

stack:
	$(STACK) up

stack-down:
	$(STACK) down

lint: venv
	$(VENV)/bin/ruff check connectors streams schemas tests bench
	$(VENV)/bin/mypy connectors streams schemas

# The benchmarks that run on the local stack as it is (see bench/README.md for the others).
bench: venv stack
	$(PY) bench/connector_throughput.py --repeat 3
	$(PY) bench/streams_pipeline.py --projects 1000 --members 5 --rate 20 --harbor fake
	$(PY) bench/harbor_reconcile.py --fake --fake-latency-ms 5 --projects 200
	$(PY) bench/images_push.py --projects 6 --changes 3

clean:
	$(STACK) down || true
	rm -rf .stack
