"""Count-based baselines: POP, REP and item-item collaborative filtering.

They need no training loop, so they are the floor every learned model must clear. REP ("watch
again") is the strong one on live streaming, where most watches are repeats.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.interaction_log import Interactions
from ray_jobs.evaluation.base import history_counts


class Popularity:
    """POP: every user gets the items ranked by their global interaction count in training."""

    name = "POP"

    def __init__(self) -> None:
        self._counts: FloatArray | None = None

    def fit(self, train: Interactions) -> None:
        self._counts = train.item_counts().astype(np.float64)

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._counts is None:
            raise RuntimeError("fit the model first")
        result: FloatArray = np.broadcast_to(self._counts, (users.shape[0], self._counts.size))
        return result.copy()


class Repeat:
    """REP: times the user interacted with the item before, then global popularity.

    The two keys are combined lexicographically (count times a factor above the largest
    popularity), so popularity only orders items the user watched equally often.
    """

    name = "REP"

    def __init__(self) -> None:
        self._train: Interactions | None = None
        self._popularity: FloatArray | None = None

    def fit(self, train: Interactions) -> None:
        self._train = train
        self._popularity = train.item_counts().astype(np.float64)

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._train is None or self._popularity is None:
            raise RuntimeError("fit the model first")
        counts = history_counts(self._train, users, at_times)
        factor = self._popularity.max(initial=0.0) + 1.0
        result: FloatArray = counts * factor + self._popularity[None, :]
        return result


class ItemCF:
    """Item-item cosine similarity on the user x item count matrix of the training split.

    A user's score for an item is the sum of its similarities to every interaction in the user's
    history. An item's similarity to itself (1) is kept, so items already watched score high:
    repeats are most of what users do on live streams, and dropping them would cripple the model.
    """

    name = "ItemCF"

    def __init__(self) -> None:
        self._train: Interactions | None = None
        self._similarity: sparse.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        # Binary user x item incidence: cosine on presence, not on binge counts.
        pairs = np.unique(train.users * train.n_items + train.items)
        user, item = np.divmod(pairs, train.n_items)
        shape = (train.n_users, train.n_items)
        matrix = sparse.csr_matrix((np.ones(pairs.size), (user, item)), shape=shape)
        co = (matrix.T @ matrix).tocsr()  # sparse: co-watched pairs are few
        norms = np.sqrt(co.diagonal())
        norms[norms == 0] = 1.0
        scale = sparse.diags(1.0 / norms)
        self._similarity = (scale @ co @ scale).tocsr()
        self._train = train

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._train is None or self._similarity is None:
            raise RuntimeError("fit the model first")
        counts = history_counts(self._train, users, at_times)
        result: FloatArray = np.asarray((self._similarity.T @ counts.T).T, dtype=np.float64)
        return result
