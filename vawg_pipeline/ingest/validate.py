"""Validating normalised rows with the pandera model, and turning failures into quarantine.

Validation is lazy: every failure of every row is collected in one pass. Each failure
becomes one quarantine problem (file, sheet, row, field, reason, value); a row with any
problem is quarantined as a whole, so rows read = rows stored + rows quarantined.
The offending value is kept unless it is personal data.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from vawg_pipeline.contract import Contract
from vawg_pipeline.contract.schema import CHECK_REASONS, UNREADABLE_SUFFIX, ReturnRow

PROBLEM_COLUMNS = ["index", "field", "reason", "value"]


def _value_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def _column_reason(contract: Contract, field: str, check: str, value: str | None) -> str:
    f = contract[field] if field in contract.names else None
    shown = "the value" if (f is not None and f.personal) else repr(value)
    if check == "not_nullable":
        return f"{field} is blank, but a value is required"
    if check.startswith("isin"):
        if f is not None and f.kind == "flag":
            return f"{field}: {shown} is not a yes/no flag (Y/N, Yes/No, TRUE/FALSE, 1/0)"
        accepted = ", ".join(f.canonical_values) if f is not None else ""
        return f"{field}: {shown} is not an accepted value (accepted: {accepted})"
    if check in CHECK_REASONS:
        return f"{field}: {shown} {CHECK_REASONS[check][1]}"
    return f"{field}: {shown} fails check {check}"


ROW_RULES = ("duplicate_row", "conflicting_key", "case_fields_disagree")


def _frame_reason(check: str, field: str, text: str, value: str | None) -> str:
    if check in ROW_RULES:
        return text
    return f"{field} {text}" if value is None else f"{field}: {value!r} {text}"


def find_problems(
    frame: pd.DataFrame, contract: Contract, absent: dict[str, pd.Series] | None = None
) -> pd.DataFrame:
    """One row per problem: the frame's index, the field, a reason and the value.

    ``absent`` marks, per optional field, the rows of sheets that lack its column: a
    blank there is not a problem.
    """
    try:
        ReturnRow.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        # The error objects echo cell values (personal ones included): use only the
        # check names and row positions, and never log the exception itself.
        failures = errors.failure_cases
    else:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    failures = failures[failures["index"].notna()]
    for field, rows in (absent or {}).items():
        positions = failures["index"].astype(int).to_numpy()
        unknown = ((failures["column"] == field) & (failures["check"] == "not_nullable")
                   & rows.to_numpy()[positions])
        failures = failures[~unknown]
    problems: list[pd.DataFrame] = []

    per_column = failures[failures["schema_context"] == "Column"]
    for (column, check), group in per_column.groupby(["column", "check"], sort=False):
        field = column.removesuffix(UNREADABLE_SUFFIX)
        personal = field in contract.names and contract[field].personal
        values = [None if personal else _value_text(v) for v in group["failure_case"]]
        problems.append(pd.DataFrame({
            "index": group["index"].to_numpy(),
            "field": field,
            "reason": [_column_reason(contract, field, check, v) for v in values],
            "value": values,
        }))

    per_frame = failures[failures["schema_context"] == "DataFrameSchema"]
    for check, group in per_frame.groupby("check", sort=False):
        field, text = CHECK_REASONS[check]
        index = pd.unique(group["index"])
        personal = contract[field].personal
        values = [None if personal else _value_text(frame.at[i, field]) for i in index]
        problems.append(pd.DataFrame({
            "index": index,
            "field": field,
            "reason": [_frame_reason(check, field, text, v) for v in values],
            "value": values,
        }))
    if not problems:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    return pd.concat(problems, ignore_index=True)
