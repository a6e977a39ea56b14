"""Keyed pseudonyms: the documented formula, the key's source, its fingerprint."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vawg_pipeline.ingest.normalise import normalise_reference
from vawg_pipeline.privacy import PSEUDONYM_HEX_CHARS, PseudonymKey, load_key


def test_pseudonym_is_the_hmac_of_force_and_normalised_reference() -> None:
    key = PseudonymKey(b"secret")
    refs = normalise_reference(pd.Series([" ab 12 ", "12345.0", None]))
    assert refs.tolist()[:2] == ["AB12", "12345"]
    got = key.pseudonymise("kent", refs).tolist()
    expected = hmac.new(b"secret", b"kent\x1fAB12", hashlib.sha256).hexdigest()
    assert got[0] == expected[:PSEUDONYM_HEX_CHARS]
    assert pd.isna(got[2])


def test_long_keys_follow_the_hmac_standard_too() -> None:
    secret = b"k" * 100  # longer than SHA-256's block: HMAC hashes it first
    got = PseudonymKey(secret).pseudonymise("essex", pd.Series(["X1"])).iloc[0]
    expected = hmac.new(secret, b"essex\x1fX1", hashlib.sha256).hexdigest()
    assert got == expected[:PSEUDONYM_HEX_CHARS]


def test_key_from_environment_wins_and_is_never_printed(tmp_path: Path) -> None:
    key = load_key("from-the-secret-store", tmp_path / ".pseudonym_key")
    assert key.secret == b"from-the-secret-store"
    assert not (tmp_path / ".pseudonym_key").exists()
    assert "from-the-secret-store" not in repr(key)
    assert len(key.fingerprint) == 16


def test_local_key_is_made_once_owner_only_with_a_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "warehouse" / ".pseudonym_key"
    with caplog.at_level(logging.WARNING):
        first = load_key(None, path)
    assert "VAWG_PSEUDONYM_KEY is not set" in caplog.text
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_key(None, path) == first  # the same key on every later run
    assert load_key("", path) == first


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=1, max_size=150),
       references=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30))
def test_every_pseudonym_is_the_standard_hmac(secret: bytes, references: list[str]) -> None:
    """Any key length and any text (accents, emoji, control characters) give exactly
    the truncated HMAC-SHA256 the documentation states, in the references' order."""
    got = PseudonymKey(secret).pseudonymise("kent", pd.Series(references)).tolist()
    expected = [hmac.new(secret, f"kent\x1f{r}".encode(), hashlib.sha256).hexdigest()
                [:PSEUDONYM_HEX_CHARS] for r in references]
    assert got == expected
