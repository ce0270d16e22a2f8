"""Code the test modules share (servers, channels, feeds, Airflow's REST API); test modules import from here and
from conftest's fixtures, never from one another."""
