"""One definition of the names other tools read (pipeline/contract.py): the SQL and every Python side agree with it."""

from __future__ import annotations

import re

from pipeline import contract, outputs
from pipeline.lake import MACROS
from pipeline.models import load_models


def test_the_validity_rule_returns_exactly_the_contracts_reasons_in_its_order():
    rule = MACROS.read_text().split("macro package_invalid_reason(")[1].split(";")[0]
    assert tuple(re.findall(r"then '(\w+)'", rule)) == contract.REASONS


def test_the_category_report_has_one_count_column_per_reason_in_the_contracts_order():
    report = {m.name: m for m in load_models()}["mart_category_report"]
    assert [c for c in report.column_docs if c.startswith("invalid_")] == [f"invalid_{r}" for r in contract.REASONS]
    published = outputs.DATASETS["category_report"]
    assert re.findall(r"invalid_\w+", published) == [f"invalid_{r}" for r in contract.REASONS]


def test_published_datasets_and_models_that_check_reasons_read_the_contract():
    assert list(outputs.DATASETS) == list(contract.DATASETS)
    checked = {m.name: m.accepted for m in load_models() if m.accepted}
    assert checked["mart_invalid_packages"]["reason"] == contract.REASONS
    assert checked["mart_vtr_snapshots"]["status"] == contract.STATUSES
