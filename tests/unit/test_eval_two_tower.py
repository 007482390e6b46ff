"""The two-tower model learns which item group a viewer's history belongs to."""

from __future__ import annotations

import numpy as np

from livecart.model.interaction_log import from_arrays
from ray_jobs.evaluation.two_tower import TwoTower, TwoTowerConfig


def test_two_tower__two_taste_groups__ranks_own_group_first() -> None:
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(60):
        group = ["a0", "a1", "a2", "a3"] if u % 2 == 0 else ["b0", "b1", "b2", "b3"]
        for t in range(12):
            users.append(f"u{u}")
            items.append(str(rng.choice(group)))
            times.append(t)
    data = from_arrays(users, items, times)
    model = TwoTower(TwoTowerConfig(dim=16, epochs=30, batch_size=64, progress=False, seed=1))
    model.fit(data)
    item_ids = list(data.item_ids)
    a = [item_ids.index(f"a{k}") for k in range(4)]
    b = [item_ids.index(f"b{k}") for k in range(4)]
    user_ids = list(data.user_ids)
    queries = np.array([user_ids.index("u0"), user_ids.index("u1")])
    scores = model.score(queries, np.array([12, 12]))
    assert scores[0, a].mean() > scores[0, b].mean()
    assert scores[1, b].mean() > scores[1, a].mean()
