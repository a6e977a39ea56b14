"""How one force lays out its return: format, headings, spellings, dates, layout quirks.

Every heading and every category spelling a style uses is drawn from the contract
(``load_contract()``) and then varied the way people vary them (case, spacing, line
breaks, punctuation, plurals); each variant is checked against the contract's own
matching so a style never invents a heading or spelling the reader must refuse.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

from vawg_pipeline.contract.fields import (
    ContractField,
    load_contract,
    normalise_heading,
    normalise_value,
)
from vawg_pipeline.forces import force_by_code
from vawg_pipeline.sample import vocab

FORMATS = ("xlsx", "xls", "ods", "csv")
SPREADSHEET_FORMATS = ("xlsx", "xls", "ods")
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
DATE_FORMATS = (
    "excel_date", "serial", "iso", "uk_slash", "uk_short_year", "uk_text", "uk_dash_text",
    "with_time",
)
# Formats that need a spreadsheet cell type (a CSV holds text only).
CELL_DATE_FORMATS = ("excel_date", "serial")
XLSX_ENGINES = ("xlsxwriter", "openpyxl")
CASINGS = ("as_is", "upper", "lower", "sentence", "title")


def _case(text: str, casing: str) -> str:
    if casing == "upper":
        return text.upper()
    if casing == "lower":
        return text.lower()
    if casing == "sentence":
        return text[:1].upper() + text[1:]
    if casing == "title":
        return string.capwords(text)
    return text


def flag_styles() -> dict[str, tuple[str, str]]:
    """'Y/N' -> ('Y', 'N'): the contract's flag spellings, paired in order."""
    values = load_contract()["criminal_investigation"].values
    trues, falses = values["true"][1:], values["false"][1:]
    return {f"{t}/{f}": (t, f) for t, f in zip(trues, falses, strict=False)}


def heading_variant(f: ContractField, rng: np.random.Generator, casing: str) -> str:
    """One heading for ``f`` as a force might type it; always maps back to ``f``."""
    lookup = load_contract().heading_lookup
    # The field's own snake_case name is rare (forces that used the NPCC template).
    choices = [*f.headings, f.name]
    weights = np.array([1.0] * len(f.headings) + [0.15])
    base = choices[int(rng.choice(len(choices), p=weights / weights.sum()))]
    text = _case(base, casing) if base != f.name else base
    roll = rng.random()
    if roll < 0.15 and " " in text:
        # Alt+Enter inside the heading cell.
        words = text.split(" ")
        cut = int(rng.integers(1, len(words)))
        text = " ".join(words[:cut]) + "\n" + " ".join(words[cut:])
    elif roll < 0.22:
        text = text.replace(" ", "_")
    elif roll < 0.28:
        text = text + ("." if rng.random() < 0.5 else ":")
    elif roll < 0.36:
        # Stray spaces: around the heading, or doubled inside it.
        text = f" {text} " if rng.random() < 0.5 else text.replace(" ", "  ", 1)
    if lookup.get(normalise_heading(text)) != f.name:
        return f.headings[0] if f.headings else f.name
    return str(text)


def _plural(text: str) -> str:
    last = text.rstrip()
    if last.endswith(("s", "S", "y", "Y")) or not last[-1:].isalpha():
        return text
    return text + ("S" if last.isupper() else "s")


def value_variant(f: ContractField, canonical: str, rng: np.random.Generator, casing: str,
                  prefer_abbreviation: float = 0.5) -> str:
    """One spelling of ``canonical`` for field ``f``; always maps back to ``canonical``."""
    spellings = list(f.values[canonical])
    if f.blank == canonical and rng.random() < 0.35:
        return ""
    if len(spellings) > 1 and rng.random() < prefer_abbreviation:
        base = spellings[int(rng.integers(1, len(spellings)))]
    else:
        base = spellings[0]
    # Abbreviations and flags keep their own case ("DA", "RCM"); words take the casing.
    text = base if base.isupper() and len(base) <= 5 else _case(base, casing)
    roll = rng.random()
    if roll < 0.06 and not base.isupper():
        text = _plural(text)
    elif roll < 0.10:
        text = text + " "
    elif roll < 0.13 and " " in text:
        text = text.replace(" ", "  ", 1)
    if f.value_lookup.get(normalise_value(text)) != canonical:
        return base
    return text


def value_alternatives(f: ContractField, canonical: str) -> list[str]:
    """Every accepted spelling of ``canonical`` (for cells typed differently by hand)."""
    alternatives = list(f.values[canonical])
    if f.blank == canonical:
        alternatives.append("")
    return alternatives


@dataclass
class ReturnStyle:
    """The layout and spellings of one force's return file.

    The defaults are a plain, tidy return (the contract's first heading and canonical
    value for everything, real date cells), so callers can build one by hand.
    """

    format: str = "xlsx"
    csv_encoding: str = "utf-8"
    file_name: str = "return.xlsx"
    force_name: str = ""
    sheet_name: str = "Return"
    split_sheet_names: tuple[str, str] = ("Complaints", "Conduct")
    title_rows: int = 0
    merged_banner: bool = False
    guidance_sheet: bool = False
    guidance_sheet_name: str = "Guidance"
    lookup_sheet: bool = False
    lookup_sheet_name: str = "Lookups"
    split_by_case_type: bool = False
    totals_row: bool = False
    total_label: str = "Total"
    blank_rows: bool = False
    blank_columns: bool = False
    # field name -> heading as written; a missing field uses its first contract heading
    headings: dict[str, str] = field(default_factory=dict)
    # field name -> canonical value -> spelling as written; missing = canonical value
    value_spellings: dict[str, dict[str, str]] = field(default_factory=dict)
    # share of category cells typed with another accepted spelling
    mixed_spellings: float = 0.0
    date_format: str = "excel_date"
    # share of cases whose dates are typed as text in an otherwise date-cell column
    date_text_fraction: float = 0.0
    flag_style: str = "Y/N"
    # spreadsheets: TRUE/FALSE as boolean cells, 1/0 as number cells
    typed_flags: bool = False
    # written order of field names and extra column headings
    column_order: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    # optional fields this force leaves out (never outcome / date_finalised)
    omitted_fields: tuple[str, ...] = ()
    xlsx_engine: str = "xlsxwriter"
    # seeds the writer's per-cell variation, so a style renders the same file every time
    seed: int = 0

    @property
    def extension(self) -> str:
        return self.format

    def heading(self, name: str) -> str:
        if name in self.headings:
            return self.headings[name]
        f = load_contract()[name]
        return f.headings[0] if f.headings else f.name

    def written_fields(self) -> list[str]:
        return [n for n in load_contract().names if n not in self.omitted_fields]

    def layout(self) -> list[str]:
        """Field names and extra headings in the written column order."""
        fields = self.written_fields()
        wanted = [*fields, *self.extra_columns]
        ordered = [c for c in self.column_order if c in wanted]
        return ordered + [c for c in wanted if c not in ordered]


def _weighted(rng: np.random.Generator, options: dict[str, float]) -> str:
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _short_name(force_name: str) -> str:
    words = [w for w in force_name.split() if w not in ("Police", "Constabulary", "Service")]
    return " ".join(words) or force_name


def style_for_force(force_code: str, rng: np.random.Generator, fmt: str | None = None,
                    csv_encoding: str | None = None) -> ReturnStyle:
    """A varied but plausible style for one force, deterministic for a given ``rng``.

    ``fmt`` / ``csv_encoding`` pin the format (the national plan spreads formats so every
    one the contract lists appears); everything else is drawn.
    """
    contract = load_contract()
    force = force_by_code(force_code)
    fmt = fmt or _weighted(rng, {"xlsx": 0.6, "csv": 0.18, "xls": 0.11, "ods": 0.11})
    if fmt not in FORMATS:
        raise ValueError(f"unknown sample format {fmt!r}; expected one of {FORMATS}")
    encoding = csv_encoding or str(rng.choice(CSV_ENCODINGS))
    spreadsheet = fmt != "csv"

    heading_casing = _weighted(rng, {"as_is": 0.6, "upper": 0.15, "lower": 0.1,
                                     "title": 0.15})
    headings = {f.name: heading_variant(f, rng, heading_casing) for f in contract.fields}

    value_casing = _weighted(rng, {"as_is": 0.3, "sentence": 0.3, "title": 0.15,
                                   "upper": 0.12, "lower": 0.13})
    abbreviate = float(rng.choice([0.1, 0.5, 0.9]))
    spellings: dict[str, dict[str, str]] = {}
    for f in contract.fields:
        if f.kind == "category":
            spellings[f.name] = {c: value_variant(f, c, rng, value_casing, abbreviate)
                                 for c in f.values}

    flags = flag_styles()
    flag_style = _weighted(rng, {k: w for k, w in zip(flags, (0.4, 0.35, 0.1, 0.15),
                                                       strict=False)})
    flag_true, flag_false = flags[flag_style]
    flag_casing = _weighted(rng, {"as_is": 0.75, "lower": 0.15, "upper": 0.1})
    spellings["criminal_investigation"] = {"true": _case(flag_true, flag_casing),
                                           "false": _case(flag_false, flag_casing)}

    if spreadsheet:
        date_format = _weighted(rng, {"excel_date": 0.5, "serial": 0.07, "iso": 0.08,
                                      "uk_slash": 0.15, "uk_short_year": 0.05,
                                      "uk_text": 0.05, "uk_dash_text": 0.05,
                                      "with_time": 0.05})
    else:
        date_format = _weighted(rng, {"iso": 0.25, "uk_slash": 0.35, "uk_short_year": 0.1,
                                      "uk_text": 0.1, "uk_dash_text": 0.1,
                                      "with_time": 0.1})
    date_text_fraction = (float(rng.uniform(0.05, 0.2))
                          if date_format == "excel_date" and rng.random() < 0.2 else 0.0)

    title_rows = 0
    if rng.random() < 0.55:
        title_rows = int(rng.integers(1, 7)) if rng.random() < 0.9 else int(rng.integers(10, 26))
    merged_banner = spreadsheet and title_rows > 0 and rng.random() < 0.6

    optional = [f.name for f in contract.fields if not f.required and not f.when_finalised]
    omit_p = {"subject_name": 0.15, "notes": 0.15}
    omitted = tuple(n for n in optional if rng.random() < omit_p.get(n, 0.1))

    extras: tuple[str, ...] = ()
    if rng.random() < 0.5:
        lookup = contract.heading_lookup
        candidates = [h for h in vocab.EXTRA_COLUMNS if normalise_heading(h) not in lookup]
        k = int(rng.integers(1, 4))
        extras = tuple(str(h) for h in rng.choice(candidates, size=min(k, len(candidates)),
                                                  replace=False))

    layout = [n for n in contract.names if n not in omitted]
    order_roll = rng.random()
    if order_roll < 0.2:
        layout = [str(c) for c in rng.permutation(layout)]
    elif order_roll < 0.5:
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(layout) - 1))
            layout[i], layout[i + 1] = layout[i + 1], layout[i]
    for extra in extras:
        layout.insert(int(rng.integers(0, len(layout) + 1)), extra)

    template = str(rng.choice(vocab.FILE_NAME_TEMPLATES))
    file_name = template.format(name=force.name, short=_short_name(force.name),
                                code=force.code, n=int(rng.integers(1, 6)), ext=fmt)

    return ReturnStyle(
        format=fmt,
        csv_encoding=encoding,
        file_name=file_name,
        force_name=force.name,
        sheet_name=str(rng.choice(vocab.SHEET_NAMES)),
        split_sheet_names=vocab.SPLIT_SHEET_NAMES[int(rng.integers(len(vocab.SPLIT_SHEET_NAMES)))],
        title_rows=title_rows,
        merged_banner=merged_banner,
        guidance_sheet=spreadsheet and rng.random() < 0.25,
        guidance_sheet_name=str(rng.choice(vocab.GUIDANCE_SHEET_NAMES)),
        lookup_sheet=spreadsheet and rng.random() < 0.1,
        lookup_sheet_name=str(rng.choice(vocab.LOOKUP_SHEET_NAMES)),
        split_by_case_type=spreadsheet and rng.random() < 0.12,
        totals_row=rng.random() < 0.2,
        total_label=str(rng.choice(vocab.TOTAL_LABELS)),
        blank_rows=rng.random() < 0.25,
        blank_columns=rng.random() < 0.2,
        headings=headings,
        value_spellings=spellings,
        mixed_spellings=0.0 if rng.random() < 0.6 else float(rng.uniform(0.02, 0.15)),
        date_format=date_format,
        date_text_fraction=date_text_fraction,
        flag_style=flag_style,
        typed_flags=spreadsheet and flag_style in ("TRUE/FALSE", "1/0") and rng.random() < 0.5,
        column_order=tuple(layout),
        extra_columns=extras,
        omitted_fields=omitted,
        xlsx_engine=_weighted(rng, {"xlsxwriter": 0.7, "openpyxl": 0.3}),
        seed=int(rng.integers(0, 2**31 - 1)),
    )
