"""Sample data, the demo and the in-process Airflow runner: tooling around the VTR pipeline, not part of the product.

`vtrdemo.generator` writes a seeded landing folder, `vtrdemo.demo` is `vtr demo`, and `vtrdemo.airflow_local` runs
the real DAG in this process for the demo, the end-to-end tests and the benchmarks.
"""
