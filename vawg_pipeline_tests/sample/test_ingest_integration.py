"""The sample returns through the real ingestion: every count the manifest promises.

This is the generator's contract with the reader: rows read = rows written, and the
quarantine holds exactly the planted rows. Skipped if ingestion is not importable.
"""

from __future__ import annotations

import pytest

from vawg_pipeline.sample.generator import ForceSample, SampleManifest

returns = pytest.importorskip("vawg_pipeline.ingest.returns")
privacy = pytest.importorskip("vawg_pipeline.privacy")


def _cross_sheet_case_conflict(f: ForceSample) -> bool:
    # A case whose rows disagree on case_type lands on both sheets of a split return.
    return f.sheets > 1 and any(p.kind == "case_conflict" and p.field == "case_type"
                                for p in f.problems)


def test_every_return_ingests_with_the_planted_counts(sample_manifest: SampleManifest) -> None:
    key = privacy.PseudonymKey(b"sample-test-key")
    mismatched = []
    for f in sample_manifest:
        result = returns.ingest_return(f.path, f.force_code, key)
        assert result.rows_read == f.rows_written, f.force_code
        assert result.rows_read == result.rows_stored + result.rows_quarantined
        if result.rows_quarantined != f.quarantined_rows:
            mismatched.append((f.force_code, result.rows_quarantined, f.quarantined_rows))
        # Nothing personal reaches the store or the quarantine.
        stored = set(result.cases.astype(str).to_numpy().ravel())
        stored |= set(result.quarantine.astype(str).to_numpy().ravel())
        leaked = [s for s in f.personal_strings if s in stored]
        assert not leaked, (f.force_code, leaked[:3])
    assert not mismatched


def test_case_conflicts_across_sheets(sample_manifest: SampleManifest) -> None:
    key = privacy.PseudonymKey(b"sample-test-key")
    forces = [f for f in sample_manifest if _cross_sheet_case_conflict(f)]
    assert forces
    for f in forces:
        result = returns.ingest_return(f.path, f.force_code, key)
        assert result.rows_quarantined == f.quarantined_rows, f.force_code
