# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: install install-spark run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# the Spark engine's extra (pyspark, a large download): for the tests and `--engine spark`
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	touch $(SPARK_STAMP)

install: $(STAMP)

install-spark: $(SPARK_STAMP)

SCORES := data/scored/open_leads.parquet
SCORE_ARGS = --leads data/interim/leads.parquet --activities data/interim/activities.parquet \
	--outcomes data/interim/outcomes.parquet --output $(SCORES) --as-of "$$AS_OF"

run: install  ## dvc repro on the embedded synthetic export, then score the open leads
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@AS_OF=$$($(BIN)/python -c "import yaml, pandas as pd; g = yaml.safe_load(open('params.yaml'))['generate']; print((pd.Timestamp(g['start']) + pd.Timedelta(days=g['days'])).isoformat())"); \
	echo "scoring the open leads as of $$AS_OF (end of the synthetic data)"; \
	$(BIN)/leadscore score $(SCORE_ARGS) || { test $$? -eq 5 && \
	  echo "no champion model yet (promotion gate not passed): scoring with the version this run registered" && \
	  $(BIN)/leadscore score $(SCORE_ARGS) --model "models:/lead-conversion/$$($(BIN)/python -c "import json; print(json.load(open('data/model/registered.json'))['version'])")"; }
	@echo "scores:     $(SCORES)"
	@echo "summary:    $(SCORES:.parquet=.summary.json)"
	@echo "quarantine: $(SCORES:.parquet=.quarantine.csv)"

test: install-spark  ## the whole test suite (the Spark engine in local mode included)
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/features_benchmark.py

clean:
	rm -rf $(VENV) data/raw/synthetic data/interim data/features data/model data/reports
