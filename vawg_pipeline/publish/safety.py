"""Guards applied to everything published: no formula injection, no small counts.

Formula injection: a spreadsheet program reads a CSV or workbook cell that starts with
``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or carriage return) as a
formula. Category labels never start so, but force-supplied text (file names) could, so
every published text cell goes through :func:`guard_text`: such text is published with
a leading apostrophe (``'``), the OWASP-recommended neutraliser. The apostrophe is
kept as part of the text in every format (DuckDB, CSV, workbook), so the three agree
and a reader can see the text was altered; the notes sheet says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD_PREFIX = "'"


def guard_text(value: object) -> object:
    """``value`` with an apostrophe in front if it is text a spreadsheet could run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return GUARD_PREFIX + value
    return value


def guard_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) guarded."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(guard_text)
    out.columns = [guard_text(str(c)) for c in out.columns]
    return out


def unsafe_text(values: Iterable[object]) -> list[str]:
    """The texts among ``values`` that start with a formula character."""
    return [v for v in values if isinstance(v, str) and v.startswith(FORMULA_STARTS)]


def primary_breaches(
    published: Mapping[str, pd.DataFrame], threshold: int
) -> list[tuple[str, dict[str, object], int]]:
    """(table_id, cell's dimension values, value) of every published value in
    1 .. threshold-1: such a value breaks the primary rule and must never be released."""
    breaches: list[tuple[str, dict[str, object], int]] = []
    for table_id, frame in published.items():
        values = frame["value"]
        small = values.notna() & (values >= 1) & (values <= threshold - 1)
        dims = [c for c in frame.columns if c not in ("value", "display")]
        for _, row in frame[small.fillna(False).astype(bool)].iterrows():
            breaches.append((table_id, {d: row[d] for d in dims}, int(row["value"])))
    return breaches
