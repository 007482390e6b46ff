"""Which stored rows a read may serve: the two expiry settings of the store's config.

- ``enforce_ttl`` (default false, as in Feast): when true, a row whose event timestamp is older
  than its view's ``ttl`` is served as absent. Feast's own stores serve such rows and leave the
  decision to the caller; livecart's repo turns it on (``feature_repo/feature_store.yaml``).
- ``key_ttl_seconds`` (default none; the name of Feast's Redis setting): a row whose event
  timestamp is more than that many seconds old is served as absent in every view, whatever the
  view's TTL and ``enforce_ttl`` say. Redis counts from the write; this store keeps no write time
  per row, so it counts from the event time. Nothing is deleted: the rows stay in the files.

A TTL of zero (or none) never expires anything, as in Feast. On-demand views have no TTL.
"""

from __future__ import annotations

import time
from typing import Any


def cutoff_us(online_config: Any, view: Any) -> float | None:
    """Event time (microseconds since the epoch) before which ``view``'s rows are not served
    now, or None when nothing expires."""
    now = time.time()
    cutoffs: list[float] = []
    ttl = getattr(view, "ttl", None)  # on-demand views have none
    if getattr(online_config, "enforce_ttl", False) and ttl and ttl.total_seconds() > 0:
        cutoffs.append(now - ttl.total_seconds())
    key_ttl = getattr(online_config, "key_ttl_seconds", None)
    if key_ttl:
        cutoffs.append(now - key_ttl)
    return max(cutoffs) * 1e6 if cutoffs else None
