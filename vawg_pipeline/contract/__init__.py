"""The NPCC return's contract: canonical fields, headings, spellings and pandera models."""

from vawg_pipeline.contract.fields import (
    Contract,
    ContractField,
    load_contract,
    normalise_heading,
    normalise_value,
)

__all__ = ["Contract", "ContractField", "load_contract", "normalise_heading", "normalise_value"]
