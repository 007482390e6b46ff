"""What the fuzz tests throw at the server: hypothesis settings, hostile JSON values and a POST
that sends them as Python's ``json`` writes them."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.reliability.conftest import AUTH, World

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NON_FINITE = (math.nan, math.inf, -math.inf)
HUGE_INTS = (10**400, -(10**309), 10**309)  # beyond any float: JSON allows them
SURROGATES = ("\ud800", "id-\udfff", "lone \udc00 low")
EXTREME_TIMES = (
    "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
    "9999-12-31T23:59:59+14:00",
)
HOSTILE = st.sampled_from([*NON_FINITE, *HUGE_INTS, *SURROGATES])


def post(world: World, path: str, body: Any, auth: bool = False) -> httpx.Response:
    """POST ``body`` as Python's json writes it (NaN literals, \\ud800 escapes, huge integers)."""
    content = json.dumps(body, allow_nan=True, ensure_ascii=True)
    headers = {**(AUTH if auth else {}), "content-type": "application/json"}
    return httpx.post(f"{world.url}{path}", content=content, headers=headers, timeout=60.0)


# Valid text: no surrogates, no replacement character, no control characters but tab and newline.
TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffd")
    | st.sampled_from("\t\n"),
    max_size=40,
)
