"""Bookkeeping column names of the online store's tables (no Feast import: Ray tasks use it)."""

from typing import Final

EVENT_TS: Final = "__event_ts"
CREATED_TS: Final = "__created_ts"
