"""One national set of sample returns, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from vawg_pipeline.sample.generator import SampleManifest, write_sample_returns


@pytest.fixture(scope="session")
def sample_manifest(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    out = tmp_path_factory.mktemp("sample") / "incoming"
    return write_sample_returns(Path(out), seed=2021)
