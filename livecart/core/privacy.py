"""Pseudonymous viewer ids: external ids are keyed-hashed at ingestion, never stored in clear."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pyarrow as pa

PSEUDONYM_PREFIX = "v_"


def pseudonymize(external_id: str, salt: str) -> str:
    """A stable, salted, non-reversible viewer id (HMAC-SHA256, 16 hex chars)."""
    digest = hmac.new(salt.encode("utf-8"), external_id.encode("utf-8"), hashlib.sha256)
    return PSEUDONYM_PREFIX + digest.hexdigest()[:16]


def pseudonymize_many(external_ids: Iterable[str | None], salt: str) -> pa.Array:
    """Vector form of :func:`pseudonymize` that keeps nulls null (the gate quarantines them)."""
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for value in external_ids:
        if value is None:
            out.append(None)
            continue
        if value not in cache:
            cache[value] = pseudonymize(value, salt)
        out.append(cache[value])
    return pa.array(out, type=pa.string())
