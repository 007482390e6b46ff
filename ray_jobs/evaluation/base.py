"""The interface every evaluated model implements, and the history helper most of them share.

``fit(train)`` sees only the training split. ``score(users, at_times)`` returns one score per
item for each query and may use only what was known at ``at_times``: the user's training rows at or
before that time, and (for models implementing :class:`ObservesLog`) other users' rows at or
before it. Leave-last-out training holds every non-target row, including other users' rows later
than some targets: this is the standard protocol the published Twitch tables use, so static models
(POP, item-CF, BPR) are comparable with them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.interaction_log import Interactions


@runtime_checkable
class Recommender(Protocol):
    """A model that can be fitted on a training log and score every item for a query."""

    name: str

    def fit(self, train: Interactions) -> None:
        """Learn from the training split only."""

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        """Scores ``[len(users), n_items]``; higher means recommend earlier."""


@runtime_checkable
class ObservesLog(Protocol):
    """A model that reads live context (who is watching what right now) at scoring time."""

    def observe(self, log: Interactions) -> None:
        """The full log; a query may use only rows at or before its time and not its user's own
        (the user's own past comes from the training split)."""


@runtime_checkable
class ReportsSignals(Protocol):
    """A model that knows which of its input signals its training data carried."""

    signals: dict[str, list[str]] | None
    """``informative`` and ``constant`` feature names (None: not known)."""


def history_before(train: Interactions, user: int, at_time: int) -> IntArray:
    """Rows of ``user`` in ``train`` at or before ``at_time`` (time order)."""
    rows = train.user_rows(user)
    result: IntArray = rows[train.times[rows] <= at_time]
    return result


def history_counts(train: Interactions, users: IntArray, at_times: IntArray) -> FloatArray:
    """``[len(users), n_items]``: how often each user interacted with each item before the time."""
    counts = np.zeros((users.shape[0], train.n_items), dtype=np.float64)
    for out, (user, at_time) in enumerate(zip(users, at_times, strict=True)):
        rows = history_before(train, int(user), int(at_time))
        np.add.at(counts[out], train.items[rows], 1.0)
    return counts
