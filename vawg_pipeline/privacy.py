"""Personal data at ingestion: keyed pseudonyms for subject references.

A subject's warrant, staff or collar number is replaced by an HMAC-SHA256 of the force
code and the normalised reference under a secret key from the environment
(``VAWG_PSEUDONYM_KEY``). The same subject in the same force always gets the same
pseudonym, so analysts can follow repeat subjects; nobody without the key can reverse it.
The store keeps only the key's fingerprint and refuses pseudonyms made with another key.

Names and notes never get this far: ``ingest.normalise`` drops them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

KEY_ENV = "VAWG_PSEUDONYM_KEY"
PSEUDONYM_HEX_CHARS = 32  # 128 bits of the HMAC: collisions are not a practical concern
_FINGERPRINT_LABEL = b"vawg-pipeline pseudonym key fingerprint v1"

log = logging.getLogger(__name__)


@cache
def _hashing_database() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for computing HMACs; each call takes its own cursor, so
    ingestion threads can share it. Results come back in the order of the values given
    (``preserve_insertion_order``, DuckDB's default, relied on here)."""
    return duckdb.connect(":memory:", config={"preserve_insertion_order": True})


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes

    @property
    def fingerprint(self) -> str:
        """Identifies the key without revealing it (stored beside the pseudonyms)."""
        return hmac.new(self.secret, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]

    def pseudonymise(self, force_code: str, references: pd.Series) -> pd.Series:
        """Pseudonyms for already-normalised references (one HMAC per distinct value).

        The HMACs are computed by DuckDB's SHA-256 from the key's two pads (RFC 2104):
        the same bytes as ``hmac.digest``, on DuckDB's threads and without holding
        Python's GIL, so the other ingestion thread keeps working meanwhile.
        """
        array = pa.array(references, type=pa.string(), from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = array.dictionary_encode()
        inner, outer = self._pads()
        cursor = _hashing_database().cursor()
        try:
            cursor.register("distinct_references", pa.table({"reference": encoded.dictionary}))
            digests = cursor.sql(
                "SELECT left(sha256($outer || unhex(sha256($inner || encode(reference)))),"
                f" {PSEUDONYM_HEX_CHARS}) FROM distinct_references",
                params={"inner": inner + f"{force_code}\x1f".encode(), "outer": outer},
            ).to_arrow_table().column(0).combine_chunks()
        finally:
            cursor.close()
        pseudonyms = digests.cast(pa.string()).take(encoded.indices)
        return pd.Series(pd.arrays.ArrowStringArray(pseudonyms), index=references.index)

    def _pads(self) -> tuple[bytes, bytes]:
        """The key's inner and outer HMAC pads (RFC 2104) for SHA-256."""
        block = hashlib.sha256().block_size
        secret = self.secret if len(self.secret) <= block else hashlib.sha256(
            self.secret).digest()
        secret = secret.ljust(block, b"\0")
        return bytes(b ^ 0x36 for b in secret), bytes(b ^ 0x5C for b in secret)

    def __repr__(self) -> str:  # never print the secret
        return f"PseudonymKey(fingerprint={self.fingerprint})"


def make_owner_only_dir(path: Path) -> Path:
    """Create a folder (and parents) readable by its owner only: it holds personal data."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def load_key(secret: str | None, local_key_file: Path) -> PseudonymKey:
    """The key from the environment; on a local run without one, a key kept in a file.

    The local file is created once, owner-only, with a warning: fine for trying the
    pipeline, not for production, where the key comes from a secret store.
    """
    if secret:
        return PseudonymKey(secret.encode())
    if local_key_file.exists():
        return PseudonymKey(local_key_file.read_text(encoding="utf-8").strip().encode())
    make_owner_only_dir(local_key_file.parent)
    fd = os.open(local_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
    log.warning(
        "%s is not set: created a local pseudonym key in %s (owner-only). Set %s from a "
        "secret store in production; pseudonyms made with different keys never mix.",
        KEY_ENV, local_key_file, KEY_ENV,
    )
    return PseudonymKey(local_key_file.read_text(encoding="utf-8").strip().encode())
