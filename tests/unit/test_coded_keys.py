"""Catalogue codes: key universes, coded entity columns and retrieval over codes.

Retrieval keeps its old meaning (distinct eligible products in source order, up to the limit,
tagged by every later source that holds them); the reference below is the per-product loop it
replaced, and hypothesis compares the two on random source lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecart.core import contract as c
from livecart.online.keys import CodedKeys, KeyUniverse
from livecart.online.lookup import distinct_keys
from serving.catalog import Catalog
from serving.retrieve import Candidates, Source

PRODUCTS = [f"p{i}" for i in range(40)]


def _catalog() -> Catalog:
    products = pd.DataFrame(
        {
            c.PRODUCT_ID: PRODUCTS,
            c.STREAMER_ID: [f"s{i % 6}" for i in range(40)],
            c.TITLE: [f"title {i}" for i in range(40)],
            c.CATEGORY: [f"cat{i % 4}" for i in range(40)],
            c.PRICE: [float(i) for i in range(40)],
            c.STOCK: [0 if i % 9 == 0 else 5 for i in range(40)],
        }
    ).set_index(c.PRODUCT_ID)
    rooms = pd.DataFrame({c.ROOM_ID: ["r0"], c.STREAMER_ID: ["s0"], c.TITLE: ["room"]}).set_index(
        c.ROOM_ID
    )
    return Catalog(products, rooms, {}, {}, {}, list(PRODUCTS), {}, {}, {})


def test_key_universe__codes_and_coded_column_read_as_values() -> None:
    universe = KeyUniverse(["a", "b", "a", "c"])
    assert universe.values == ("a", "b", "c") and len(universe) == 3
    assert universe.codes(["c", "zz", "a"]).tolist() == [2, -1, 0]
    column = universe.encode(["b", "b", "c"])
    assert list(column) == ["b", "b", "c"] and column[2] == "c" and column[0:2] == ["b", "b"]
    assert len(column) == 3 and isinstance(column, CodedKeys)
    with pytest.raises(KeyError, match="outside the universe"):
        universe.encode(["a", "nope"])
    assert KeyUniverse(["a"]).token != universe.token  # caches tell universes apart
    # Code -1 (a key outside the universe, e.g. an unknown product) reads as None, never as the
    # universe's last key (Python's index -1): a store read by value must find nothing for it.
    outside = CodedKeys(universe, np.array([0, -1, 2]))
    assert list(outside) == ["a", None, "c"] and outside[1] is None
    assert outside[0:3] == ["a", None, "c"]


def _reference(
    parts: list[tuple[Source, list[str]]], eligible: set[str], limit: int
) -> dict[str, list[str]]:
    """The per-product loop retrieval used before codes (live_now: no new tags once full)."""
    sources: dict[str, list[str]] = {}
    for source, products in parts:
        if source == Source.LIVE:  # tag the candidates found earlier first
            for product in sources:
                if product in products:
                    sources[product].append(source.value)
        for product in products:
            if source == Source.LIVE and len(sources) >= limit:
                break
            tags = sources.get(product)
            if tags is None:
                if len(sources) < limit and product in eligible:
                    sources[product] = [source.value]
            elif source.value not in tags:
                tags.append(source.value)
    return sources


@settings(max_examples=80, deadline=None)
@given(
    lists=st.lists(
        st.tuples(
            st.sampled_from([s for s in Source if s != Source.LIVE]),
            st.lists(st.sampled_from([*PRODUCTS[:25], "not-in-catalogue"]), max_size=12),
        ),
        max_size=6,
    ),
    live=st.lists(st.sampled_from(PRODUCTS), max_size=30, unique=True),
    ineligible=st.sets(st.sampled_from(PRODUCTS), max_size=15),
    limit=st.integers(min_value=1, max_value=30),
)
def test_first_distinct__same_candidates_and_tags_as_the_per_product_loop(
    lists: list[tuple[Source, list[str]]], live: list[str], ineligible: set[str], limit: int
) -> None:
    catalog = _catalog()
    parts = [*lists, (Source.LIVE, live)]
    eligible = set(PRODUCTS) - ineligible
    mask = np.append(np.isin(np.array(PRODUCTS), sorted(eligible)), False)
    coded = [(source, catalog.product_keys.codes(products)) for source, products in parts]
    got = Candidates.first_distinct(catalog, coded, [False] * len(coded), mask, limit, None)
    want = _reference(parts, eligible, limit)
    assert got.products == list(want)
    assert [got.sources_of(i) for i in range(len(got.products))] == list(want.values())
    for source in Source:
        found = [source.value in tags for tags in want.values()]
        assert got.found_by(source).tolist() == found, source


def test_first_distinct__unchecked_live_part_adds_products_the_filters_would_drop() -> None:
    catalog = _catalog()
    popular = catalog.product_keys.codes(["p1", "p2"])
    live = catalog.product_keys.codes(["p2", "p3"])
    none_eligible = np.zeros(len(PRODUCTS) + 1, dtype=bool)
    parts = [(Source.POPULAR, popular), (Source.LIVE, live)]
    got = Candidates.first_distinct(catalog, parts, [False, True], none_eligible, 10, None)
    assert got.products == ["p2", "p3"] and got.sources_of(0) == ["live_now"]


def test_catalog__per_code_arrays_match_the_dicts() -> None:
    catalog = _catalog()
    codes = catalog.product_keys.codes(PRODUCTS)
    streamers = CodedKeys(catalog.streamer_keys, catalog.product_streamer[codes])
    categories = CodedKeys(catalog.category_keys, catalog.product_category[codes])
    assert list(streamers) == [catalog.streamer_of[p] for p in PRODUCTS]
    assert list(categories) == [catalog.category_of[p] for p in PRODUCTS]
    assert catalog.product_in_stock.tolist() == [catalog.stock_of[p] > 0 for p in PRODUCTS]
    assert catalog.coded("popular", "", 3).tolist() == [0, 1, 2]


@settings(max_examples=120, deadline=None)
@given(
    first=st.lists(st.integers(min_value=-1, max_value=5), min_size=1, max_size=30),
    second=st.lists(st.integers(min_value=-1, max_value=2), min_size=30, max_size=30),
    shape=st.sampled_from(["one", "with_constant", "with_coded_constant", "two"]),
)
def test_distinct_keys__coded_columns_as_their_values(
    first: list[int], second: list[int], shape: str
) -> None:
    """A request's keys given as codes (numpy on the codes, first-seen order kept) find the same
    distinct keys, in the same order, with the same row indices as the values themselves; code
    -1 is the key None. A wrong order or inverse fails here."""
    universe = KeyUniverse([f"k{i}" for i in range(6)])
    coded = CodedKeys(universe, np.array(first))
    n = len(first)
    if shape == "one":
        columns: list[Sequence[Any]] = [coded]
    elif shape == "with_constant":
        columns = [["viewer"] * n, coded]
    elif shape == "with_coded_constant":
        columns = [coded, CodedKeys(universe, np.full(n, first[0]))]
    else:
        columns = [coded, CodedKeys(universe, np.array(second[:n]))]
    keys, inverse = distinct_keys(columns)
    plain_keys, plain_inverse = distinct_keys([list(column) for column in columns])
    assert keys == plain_keys and inverse.tolist() == plain_inverse.tolist()
    rows = list(zip(*(list(column) for column in columns), strict=True))
    assert [keys[i] for i in inverse] == rows  # each row's index names its own key
    assert CodedKeys(universe, np.array(first)).tolist() == [
        None if code < 0 else f"k{code}" for code in first
    ]
