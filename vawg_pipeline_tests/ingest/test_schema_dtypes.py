"""The model's text dtype: Arrow text passes as a column, anything else is reported."""

import pandas as pd
import pandera.pandas as pa
import pytest

from vawg_pipeline.contract.schema import ArrowText


class _Model(pa.DataFrameModel):
    reference: pa.typing.Series[ArrowText] = pa.Field(nullable=True)


def _failures(frame: pd.DataFrame) -> pd.DataFrame:
    try:
        _Model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return pd.DataFrame(columns=["check"])


def test_arrow_text_passes_blanks_included() -> None:
    frame = pd.DataFrame({"reference": pd.Series(["MP1", None], dtype="string[pyarrow]")})
    assert _failures(frame).empty


@pytest.mark.parametrize("dtype", [object, "string[python]", "int64"])
def test_any_other_column_type_is_a_dtype_failure(dtype: object) -> None:
    values = [1, 2] if dtype == "int64" else ["MP1", "MP2"]
    failures = _failures(pd.DataFrame({"reference": pd.Series(values, dtype=dtype)}))
    assert set(failures["check"]) == {"dtype('string[pyarrow]')"}
