"""The first pass's shares of a row suite (validation/first_pass.py): every rule in exactly one
share, and the shares' estimated costs even (rules with a row condition cost GX far more)."""

from __future__ import annotations

import pytest

from livecart.core.contract import Table
from validation.first_pass import _cost, share_of
from validation.suites import row_suite


@pytest.mark.parametrize("count", [1, 2, 3])
def test_share_of__events_suite__a_partition_in_suite_order_with_even_costs(count: int) -> None:
    rules = list(row_suite(Table.EVENTS, [Table.VIEWERS, Table.ROOMS, Table.PRODUCTS]).expectations)
    shares = [share_of(rules, (i, count)) for i in range(count)]
    ids = [[id(r) for r in share] for share in shares]
    assert sorted(i for share in ids for i in share) == sorted(id(r) for r in rules)
    for share in ids:  # each share keeps the suite's order
        assert share == [id(r) for r in rules if id(r) in set(share)]
    costs = [sum(_cost(r) for r in share) for share in shares]
    conditioned = sum(_cost(r) > 1 for r in rules)
    assert conditioned >= 3  # the events suite's conditional rules (purchase amount, ...)
    assert max(costs) - min(costs) <= max(_cost(r) for r in rules)  # greedy: within one rule
    if count == 2:  # both shares get conditioned rules
        assert all(any(_cost(r) > 1 for r in share) for share in shares)
