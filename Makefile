# Two commands do everything on a fresh machine with python3, pip and make:
#   make demo   set up, then make a sample data set and run the pipeline over weeks of it
#   make test   set up, then run the test suite
#   make test-fast   while working: the linters and every test not marked slow (no Airflow, cluster, PostgreSQL,
#                    Chromium, kill or benchmark test), a few minutes
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv

.PHONY: setup demo test test-fast bench airflow airflow-stop backfill cluster-up cluster-status cluster-down

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet --compile-bytecode  # .pyc at install: a run does not compile Airflow or plotly again when the environment forbids writing them
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/vtr demo

test: setup
	bash .ci/system-packages  # postgresql and chromium when missing and installable; else one line on what is skipped
	bash .ci/lint
	$(VENV)/bin/python -m pytest -n 2 -m "not slow and not cluster"  # the fast lane, on both cores
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile -m "slow or cluster"  # both cores, a file per worker; the two Airflows one after the other (tests/conftest.py)

test-fast: setup
	bash .ci/lint
	$(VENV)/bin/python -m pytest -n 2 -m "not slow and not cluster"

bench: setup
	$(VENV)/bin/python benchmarks/run.py --size $(or $(SIZE),S) $(if $(ONLY),--only $(ONLY))  # ONLY=scale: the cluster scenario

# A local Airflow for vtr_daily on 127.0.0.1 (PORT, default 8080; VTR_CONFIG, default demo/vtr.toml): in the
# foreground, Ctrl-C stops it; `make airflow-stop` from another shell does too
airflow: setup
	$(VENV)/bin/python -m ops.launcher start --port $(or $(PORT),8080) --config $(or $(VTR_CONFIG),demo/vtr.toml)

airflow-stop:
	$(VENV)/bin/python -m ops.launcher stop

# `airflow backfill create` for vtr_daily from FROM to TO (logical dates), on the Airflow AIRFLOW_HOME names
# (default .airflow), run again while SQLite metadata answers "database is locked" (it created nothing)
backfill: setup
	$(VENV)/bin/python -m ops.backfill --from $(FROM) --to $(TO)

# The local Celery cluster (ops/cluster.py): PostgreSQL, Redis, Airflow's api-server, scheduler, dag-processor and
# Celery workers on 127.0.0.1, as CLUSTER (default ops/cluster.toml) says. cluster-up on a cluster partly up starts
# what is missing; cluster-status lists every component (exit 1 when one is down); cluster-down [PURGE=1] stops it
cluster-up: setup
	$(VENV)/bin/python -m ops.cluster up --settings $(or $(CLUSTER),ops/cluster.toml)

cluster-status: setup
	$(VENV)/bin/python -m ops.cluster status --settings $(or $(CLUSTER),ops/cluster.toml)

cluster-down:
	$(VENV)/bin/python -m ops.cluster down --settings $(or $(CLUSTER),ops/cluster.toml) $(if $(PURGE),--purge)
