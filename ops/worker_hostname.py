"""The host name Airflow records for a task instance, when several Celery workers share one machine.

`[core] hostname_callable = ops.worker_hostname.hostname` (set by `python -m ops.cluster up`): a worker started
with VTR_WORKER_HOSTNAME (the launcher sets it to the worker's Celery host name, `w1@<machine>`) records that name,
so the task instances show which worker ran them; every other process gets Airflow's default, the machine's FQDN.
On real hosts, one worker per machine, leave `hostname_callable` at its default.
"""

from __future__ import annotations

import os

ENV = "VTR_WORKER_HOSTNAME"


def hostname() -> str:
    from airflow.utils.net import getfqdn  # Airflow's default hostname_callable

    return os.environ.get(ENV) or getfqdn()
