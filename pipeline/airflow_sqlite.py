"""Connection arguments for Airflow's SQLite metadata database (named by ops/launcher.py in the airflow.cfg it writes,
[database] sql_alchemy_connect_args and ..._async): its components write at once, and SQLite lets one
writer in at a time; a writer waits up to a minute for its turn instead of failing with "database is locked"."""

CONNECT_ARGS = {"timeout": 60}
