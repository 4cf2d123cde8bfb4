# The two commands of the README. Each sets up everything it needs on a fresh machine:
# a virtualenv with the pinned dependencies, then the local stack (deploy/stack up).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SCALE ?= 0.01
BENCH_SCALE ?= 0.1
BENCH_ARGS ?=

.PHONY: demo test lint unit stack-up stack-down venv browser bench cluster-up cluster-down cluster-faults bench-cluster

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

stack-up:
	deploy/stack up

stack-down:
	deploy/stack down

# The local cluster (deploy/cluster): 3 Kafka brokers, ZooKeeper, 2 shards x 2 replicas of
# ClickHouse, beside the single-node stack (other ports). `deploy/cluster env` prints its settings.
cluster-up:
	deploy/cluster up

cluster-down:
	deploy/cluster down

# The fault scenarios on the cluster: a broker, a replica of each shard, a worker killed
# half-way (tests/integration/test_cluster_faults.py); prints each scenario's figures.
cluster-faults: venv cluster-up
	$(BIN)/pytest -s --cluster-faults tests/integration/test_cluster_faults.py

# Debian's chromium and a CJK font, for the dashboard's browser test.
browser:
	deploy/browser >/dev/null

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Lint first (seconds), then the whole suite against the real stack.
test: venv lint stack-up browser
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

demo: venv stack-up
	$(BIN)/frontline demo --scale $(SCALE)

# Frontline against the ceiling and ClickHouse's Kafka engine on one campaign (bench/suite.py):
# prints the ratios and writes docs/benchmarks.md. 5-9 minutes at the default scale.
bench: venv stack-up
	$(BIN)/python -m bench --scale $(BENCH_SCALE) $(BENCH_ARGS)

# Catch-up with three workers on the cluster against one worker on the single-node stack, in
# the same run (bench/cluster.py).
bench-cluster: venv stack-up cluster-up
	$(BIN)/python -m bench.cluster --scale $(BENCH_SCALE) $(BENCH_ARGS)
