"""Realistic sample force returns: clean rows, planted problems, messy files per force.

See ``vawg_pipeline.sample.generator`` for the API.
"""

from vawg_pipeline.sample.generator import (
    DEFAULT_PERIOD,
    DEFAULT_RECEIVED_AT,
    PLANT_KINDS,
    ForceSample,
    PlantedProblem,
    ReturnStyle,
    SampleManifest,
    generate_force_rows,
    plan_styles,
    plant_quarantine_rows,
    style_for_force,
    write_large_return,
    write_return,
    write_sample_returns,
)

__all__ = [
    "DEFAULT_PERIOD",
    "DEFAULT_RECEIVED_AT",
    "PLANT_KINDS",
    "ForceSample",
    "PlantedProblem",
    "ReturnStyle",
    "SampleManifest",
    "generate_force_rows",
    "plan_styles",
    "plant_quarantine_rows",
    "style_for_force",
    "write_large_return",
    "write_return",
    "write_sample_returns",
]
