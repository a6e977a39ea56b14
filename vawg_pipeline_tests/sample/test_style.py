"""Styles: headings and spellings always come from the contract and map back to it."""

from __future__ import annotations

from collections import Counter

import numpy as np

from vawg_pipeline.contract.fields import load_contract, normalise_heading, normalise_value
from vawg_pipeline.forces import force_codes
from vawg_pipeline.sample.generator import plan_styles
from vawg_pipeline.sample.style import (
    CSV_ENCODINGS,
    DATE_FORMATS,
    FORMATS,
    ReturnStyle,
    flag_styles,
    style_for_force,
)


def _styles(n: int = 300) -> list[ReturnStyle]:
    codes = force_codes()
    rng = np.random.default_rng(11)
    return [style_for_force(codes[i % len(codes)], rng) for i in range(n)]


def test_headings_map_back_to_their_field() -> None:
    contract = load_contract()
    seen: Counter[str] = Counter()
    for style in _styles():
        for f in contract.fields:
            heading = style.heading(f.name)
            assert contract.heading_lookup[normalise_heading(heading)] == f.name, heading
            seen[heading] += 1
    # Real variety: aliases, case, line breaks, punctuation.
    assert any("\n" in h for h in seen)
    assert any(h.isupper() for h in seen)
    assert len(seen) > 150


def test_spellings_map_back_to_their_canonical_value() -> None:
    contract = load_contract()
    blanks = 0
    for style in _styles():
        for name, spellings in style.value_spellings.items():
            f = contract[name]
            assert set(spellings) == set(f.values)
            for canonical, text in spellings.items():
                if text == "":
                    assert f.blank == canonical
                    blanks += 1
                else:
                    assert f.value_lookup[normalise_value(text)] == canonical, (name, text)
    assert blanks > 0


def test_flag_styles_are_the_contract_spellings() -> None:
    values = load_contract()["criminal_investigation"].values
    styles = flag_styles()
    assert set(styles) == {"Y/N", "Yes/No", "TRUE/FALSE", "1/0", "1.0/0.0"}
    for true_text, false_text in styles.values():
        assert true_text in values["true"] and false_text in values["false"]


def test_layout_and_file_names() -> None:
    for style in _styles(100):
        layout = style.layout()
        assert set(layout) == set(style.written_fields()) | set(style.extra_columns)
        assert {"outcome", "date_finalised"} <= set(layout)
        assert {f.name for f in load_contract().required} <= set(layout)
        assert not set(style.extra_columns) & set(load_contract().heading_lookup)
        assert style.file_name.endswith("." + style.format)
        assert not style.file_name.startswith((".", "~$"))
        if style.format == "csv":
            assert style.date_format not in ("excel_date", "serial")
            assert not (style.guidance_sheet or style.split_by_case_type or style.lookup_sheet)


def test_default_style_is_plain() -> None:
    style = ReturnStyle()
    contract = load_contract()
    assert style.layout() == contract.names
    assert style.heading("case_reference") == contract["case_reference"].headings[0]


def test_national_plan_covers_every_variant() -> None:
    styles = list(plan_styles(2021).values())
    assert len(styles) == len(force_codes())
    formats = Counter(s.format for s in styles)
    assert set(formats) == set(FORMATS)
    assert formats.most_common(1)[0][0] == "xlsx"
    assert {s.csv_encoding for s in styles if s.format == "csv"} == set(CSV_ENCODINGS)
    assert {s.date_format for s in styles} == set(DATE_FORMATS)
    assert {s.flag_style for s in styles} == set(flag_styles())
    for feature in ("split_by_case_type", "guidance_sheet", "lookup_sheet", "totals_row",
                    "blank_rows", "blank_columns", "typed_flags"):
        assert any(getattr(s, feature) for s in styles), feature
    assert any(s.title_rows and s.merged_banner for s in styles)
    assert any(s.title_rows >= 10 for s in styles)
    assert any(s.split_by_case_type and s.format == "xlsx" for s in styles)
    assert {s.xlsx_engine for s in styles if s.format == "xlsx"} == {"xlsxwriter", "openpyxl"}


def test_a_force_keeps_its_style_whatever_else_is_written() -> None:
    full = plan_styles(7)
    some = plan_styles(7, ["metropolitan", "dorset"])
    assert some["metropolitan"] == full["metropolitan"]
    assert some["dorset"] == full["dorset"]
