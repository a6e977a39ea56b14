"""The README's contract table is generated from the contract data, and stays in step."""

from __future__ import annotations

from pathlib import Path

from vawg_pipeline.contract.docs import README_BEGIN, README_END, contract_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_contract_table_matches_the_contract_data() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert section == contract_markdown(), (
        "README is out of date: paste `python -m vawg_pipeline.contract.docs` between "
        "the contract markers")


def test_readme_commands_are_the_ones_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert test_command in text
    assert test_command in ci
