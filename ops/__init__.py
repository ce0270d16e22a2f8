"""Running the product on this machine: a local Airflow (launcher: `make airflow`), a local Celery cluster (cluster
and its servers, services: `make cluster-up`, `make cluster-status`), a backfill that waits out a busy SQLite metadata
database (backfill: `make backfill`); deployment: what they share. Run as `python -m ops.<module>`."""
