"""Per-force feedback workbooks: quarantined rows, counts, refusals, how to fix them."""

from vawg_pipeline.feedback.advice import how_to_fix, refusal_advice
from vawg_pipeline.feedback.workbook import (
    FeedbackWritten,
    ForceFeedback,
    feedback_fingerprints,
    feedback_forces,
    load_force_feedback,
    problem_rows,
    remove_stale_feedback,
    write_all_feedback,
    write_workbook,
)

__all__ = [
    "FeedbackWritten",
    "ForceFeedback",
    "feedback_fingerprints",
    "feedback_forces",
    "how_to_fix",
    "load_force_feedback",
    "problem_rows",
    "refusal_advice",
    "remove_stale_feedback",
    "write_all_feedback",
    "write_workbook",
]
