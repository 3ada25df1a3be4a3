# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .sam-venv
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test local emulator lint typecheck validate build chaos bench clean help openapi fuzz

help:
	@echo "make demo      the whole story on a local stack (no AWS, no Docker)"
	@echo "make test      the test suite"
	@echo "make local     keep the local stack serving (API :3000, emulator :8090)"
	@echo "make emulator  the ServiceM8 emulator alone (PORT=8090)"
	@echo "make lint      ruff and mypy"
	@echo "make validate  sam validate, sam validate --lint, cfn-lint with serverless rules"
	@echo "make build     sam build (no Docker needed)"
	@echo "make openapi   regenerate openapi.json from the API's routes"
	@echo "make fuzz      10,000 schemathesis cases against the local stack (CASES=...)"
	@echo "make chaos     the local stack while parts fail, then a rate-budget burst (~3 min)"
	@echo "make bench     measure speed and economy, write docs/benchmarks.md (about 5 minutes)"

$(VENV)/.installed: requirements-dev.txt layers/connector/requirements.txt
	@test -x $(PY) || $$(scripts/find-python.sh) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $$(scripts/find-python.sh) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

demo: $(VENV)/.installed
	@$(PY) -m local.demo

test: $(VENV)/.installed
	@$(PY) -m pytest

local: $(VENV)/.installed
	@$(PY) -m local.serve

emulator: $(VENV)/.installed
	@$(PY) -m local.emulator

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

validate: $(VENV)/.installed $(SAM_VENV)/.installed
	@$(SAM) validate --region us-east-1
	@$(SAM) validate --lint --region us-east-1
	@$(VENV)/bin/cfn-lint template.yaml -a cfn_lint_serverless.rules

build: $(SAM_VENV)/.installed
	@PATH="$$(dirname $$(scripts/find-python.sh)):$$PATH" $(SAM) build

openapi: $(VENV)/.installed
	@$(PY) -m local.openapi

fuzz: $(VENV)/.installed
	@$(PY) -m tests.contract.fuzzing --cases $${CASES:-10000}

chaos: $(VENV)/.installed
	@$(PY) -m local.chaos

bench: $(VENV)/.installed
	@$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
