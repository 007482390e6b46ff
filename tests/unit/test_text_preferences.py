"""Text-only preferences of a generated world: named only in product texts, planted in the funnel."""

from __future__ import annotations

import re

import numpy as np
import pytest

from livecart.core import contract as c
from livecart.simulation.world.behavior import ATTRIBUTE_WEIGHT, funnel_probabilities, planted_taste
from livecart.simulation.world.catalog import ATTRIBUTE_SHARE, SEEKER_SHARE, build_catalog
from livecart.simulation.world.config import world_config
from livecart.simulation.world.text import ATTRIBUTES, NOT_SEEKING, SEEKING


@pytest.mark.parametrize("language", ["en", "zh"])
def test_catalog__attributes__named_in_title_and_description_only(language: str) -> None:
    cfg = world_config("small", seed=3).model_copy(update={"language": language})
    cat = build_catalog(cfg)
    products = cat.tables[c.Table.PRODUCTS].to_pandas()
    attribute = cat.product_attribute
    assert abs((attribute >= 0).mean() - ATTRIBUTE_SHARE) < 0.1
    for (word, sentence), (title, description, a) in zip(
        [ATTRIBUTES[language][a] if a >= 0 else ("", "") for a in attribute],
        zip(products[c.TITLE], products[c.DESCRIPTION], attribute, strict=True),
        strict=True,
    ):
        if a >= 0:
            assert title.startswith(word) and description.endswith(sentence)
        else:
            assert not any(title.startswith(w) for w, _ in ATTRIBUTES[language])
    # Independent of category and price: every attribute turns up across many categories.
    for a in range(len(ATTRIBUTES[language])):
        assert np.unique(cat.product_category[attribute == a]).size >= 5
    assert abs((cat.viewer_seeks >= 0).mean() - SEEKER_SHARE) < 0.05
    truth = cat.truth[c.TRUTH_PRODUCTS].column("attribute").to_numpy()
    assert np.array_equal(truth, attribute)


def test_planted_taste__a_sought_attribute__raises_click_and_cart_only_there() -> None:
    taste = np.array([0.3, 0.3, 0.3, 0.3])
    seeks = np.array([2, 2, -1, 2])
    attribute = np.array([2, 1, -1, -1])
    got = planted_taste(taste, seeks, attribute)
    assert np.allclose(got, [0.3 + ATTRIBUTE_WEIGHT, 0.3, 0.3, 0.3])
    ones = np.ones(4)
    click, cart, buy = funnel_probabilities(
        got, ones * 0, ones * 10, ones * 10, ones, ones * 0, ones
    )
    assert click[0] > click[1] == click[2] and cart[0] > cart[1] and np.allclose(buy, buy[0])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_catalog__shopping_for__a_seeker_names_the_attribute_in_other_words(
    language: str,
) -> None:
    """What a viewer says they shop for states the attribute they seek in their own words,
    never the word a product's title uses; the other viewers' lines name no attribute."""
    cfg = world_config("small", seed=4).model_copy(update={"language": language})
    cat = build_catalog(cfg)
    said = cat.tables[c.Table.VIEWERS].column(c.SHOPPING_FOR).to_pylist()
    assert len(said) == cfg.viewers and all(said)
    words = [word.lower() for word, _ in ATTRIBUTES[language]]
    for line, seeks in zip(said, cat.viewer_seeks, strict=True):
        assert not any(word in line.lower() for word in words)
        if language == "en" and seeks >= 0:  # no word of the product's side either
            assert not _words(line) & _words(" ".join(ATTRIBUTES["en"][seeks])), line
        if seeks >= 0:
            assert line in SEEKING[language][seeks]
        else:
            assert line in NOT_SEEKING[language]
    # Every phrasing turns up: not one sentence per attribute.
    assert len(set(said)) == sum(map(len, SEEKING[language])) + len(NOT_SEEKING[language])


def _words(text: str) -> set[str]:
    """Lower-case words of four letters or more (what a keyword match would pick up)."""
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}
