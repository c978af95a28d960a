# linuxha.vrrp: developer entry points. `make test` is what CI runs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
AGENT := files/agent

.PHONY: venv test unit coverage lab lint bench reliability clean

$(VENV)/.stamp: requirements-dev.txt | deps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

lint: venv
	$(VENV)/bin/ruff check --config $(AGENT)/pyproject.toml $(AGENT)/vrrp_agent tests bench
	@# plugins follow the Ansible module layout (DOCUMENTATION first, py2-era boilerplate)
	$(VENV)/bin/ruff check --config $(AGENT)/pyproject.toml --extend-ignore UP,E402,B904 plugins tools roles
	cd $(AGENT) && ../../$(VENV)/bin/mypy vrrp_agent

unit: venv
	PYTHONPATH=$(AGENT) $(PY) -m pytest -q tests/unit

# Line coverage of the driver modules by tests/unit (fake adapters, virtual time), measured
# in-process by coverage.py. Needs no root (tests/unit run as any user).
DRIVER := daemon driver receive supervisor transitions operations health vips control commands status cli
COVERAGE_FILE ?= /tmp/vrrp-agent-coverage-$(shell id -u)
coverage: venv
	COVERAGE_FILE=$(COVERAGE_FILE) PYTHONPATH=$(AGENT) $(PY) -m coverage run \
		--source=$(AGENT)/vrrp_agent -m pytest -q -p no:cacheprovider tests/unit
	COVERAGE_FILE=$(COVERAGE_FILE) $(PY) -m coverage report --fail-under=85 \
		--include="$$(printf '$(AGENT)/vrrp_agent/%s.py,' $(DRIVER))"

lab: venv
	PYTHONPATH=$(AGENT) $(PY) -m pytest -q tests/lab

# Fragments in mk/*.mk add their own targets and append to TEST_TARGETS
# (run by `make test` after the agent's lint and tests).
TEST_TARGETS := coverage
include $(wildcard mk/*.mk)

test: deps venv lint
	PYTHONPATH=$(AGENT) $(PY) -m pytest -q -rs tests
	@for t in $(TEST_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

# BENCH_ARGS='--quick --only cpu,jitter' runs parts quickly.
bench: venv
	PYTHONPATH=$(AGENT) $(PY) bench/run.py --write docs/benchmarks.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

reliability: venv
	PYTHONPATH=$(AGENT) $(PY) bench/reliability.py --write docs/reliability.md
