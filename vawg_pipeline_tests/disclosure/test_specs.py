"""The published tables' specs and the disclosure rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from vawg_pipeline.disclosure.specs import DisclosureRules, TableSpec, load_table_specs

MINIMUM_SET = {
    "cases_by_case_type": ("cases", "all", ("case_type",)),
    "cases_by_force": ("cases", "all", ("force", "case_type")),
    "individuals_by_vawg_category": ("individuals", "all", ("vawg_category", "case_type")),
    "individuals_by_role": ("individuals", "all", ("subject_role", "case_type")),
    "individuals_by_restriction": ("individuals", "all", ("restriction", "subject_role")),
    "individuals_by_victim_relationship": (
        "individuals",
        "all",
        ("victim_relationship", "vawg_category"),
    ),
    "individuals_by_force_and_vawg_category": (
        "individuals",
        "all",
        ("force", "vawg_category"),
    ),
    "individuals_by_outcome": ("individuals", "finalised", ("outcome", "case_type")),
}


def test_tables_toml_holds_the_minimum_set() -> None:
    specs = {s.table_id: s for s in load_table_specs()}
    for table_id, (unit, population, dims) in MINIMUM_SET.items():
        spec = specs[table_id]
        assert (spec.unit, spec.population, spec.dimensions) == (unit, population, dims)
        assert spec.title and spec.title[0].isupper()
        assert len(spec.description) > 60 and "\n" not in spec.description


def test_specs_load_in_file_order() -> None:
    ids = [s.table_id for s in load_table_specs()]
    assert ids[:2] == ["cases_by_case_type", "cases_by_force"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit": "people"}, "unit"),
        ({"population": "ongoing"}, "population"),
        ({"dimensions": ("colour",)}, "unknown dimensions"),
        ({"dimensions": ()}, "at least one dimension"),
        ({"unit": "cases", "dimensions": ("force", "vawg_category")}, "case-level"),
        ({"dimensions": ("force", "force")}, "twice"),
    ],
)
def test_bad_specs_are_refused(kwargs: dict, message: str) -> None:
    base = {
        "table_id": "t",
        "title": "T",
        "unit": "individuals",
        "population": "all",
        "dimensions": ("force",),
        "description": "d",
    }
    with pytest.raises(ValueError, match=message):
        TableSpec(**{**base, **kwargs})


def test_duplicate_table_ids_are_refused(tmp_path: Path) -> None:
    entry = (
        '[[table]]\ntable_id = "a"\ntitle = "A"\nunit = "cases"\npopulation = "all"\n'
        'dimensions = ["force"]\ndescription = "x"\n'
    )
    path = tmp_path / "tables.toml"
    path.write_text(entry + entry)
    with pytest.raises(ValueError, match="duplicate"):
        load_table_specs(path)


def test_rules_defaults_and_lower_bound() -> None:
    rules = DisclosureRules()
    assert (rules.threshold, rules.protection_width, rules.insiders) == (5, 5, True)
    assert [v for v in range(7) if rules.is_small(v)] == [1, 2, 3, 4]
    assert rules.withheld_lower_bound == 0
    no_zeros = DisclosureRules(
        protect_zeros_in_single_nonzero_lines=False, secondary_may_use_zeros=False
    )
    assert no_zeros.withheld_lower_bound == 1
    assert rules.as_dict()["threshold"] == 5
    with pytest.raises(ValueError):
        DisclosureRules(threshold=0)
