"""Slow-moving profiles: viewer, product and room, as daily (or one-off) snapshots.

A daily snapshot at midnight D holds every event before D; catalog attributes get a base row
(at signup for viewers, at the first day for products, at go-live for rooms) so look-ups before
the first active day still find them.
"""

from __future__ import annotations

from livecart.core import contract as c
from livecart.core import feature_names as f


def _rate(hits: str, trials: str) -> str:
    return f"(({hits}) + {f.PRIOR_HITS}) / (({trials}) + {f.PRIOR_TRIALS})"


def viewer_profile_sql(categories: tuple[str, ...]) -> str:
    per_cat = ",\n".join(
        f"sum(CASE WHEN item_category = '{k}' THEN affinity_weight ELSE 0 END) AS aff_{i}"
        for i, k in enumerate(categories)
    )
    cum = ", ".join(f"sum(aff_{i}) OVER w AS aff_{i}" for i in range(len(categories)))
    total = " + ".join(f"aff_{i}" for i in range(len(categories)))
    shares = ", ".join(f"aff_{i} / greatest({total}, 1e-9)" for i in range(len(categories)))
    names = ", ".join(f"'{k}'" for k in categories)
    zeros = ", ".join("0.0" for _ in categories)
    return f"""
    WITH daily AS (
        SELECT {c.VIEWER_ID}, date_trunc('day', {c.EVENT_TIMESTAMP}) + INTERVAL 1 DAY AS snap,
               count(*) AS n_events,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'enter_room') AS n_enters,
               coalesce(sum({c.WATCH_SECONDS}) FILTER (WHERE {c.EVENT_TYPE} = 'watch'), 0) / 60.0 AS watch_min,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'purchase') AS n_purchases,
               coalesce(sum({c.AMOUNT}) FILTER (WHERE {c.EVENT_TYPE} = 'purchase'), 0) AS spend,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'click') AS n_clicks,
               count(*) FILTER (WHERE is_product_impression) AS n_product_impressions,
               {per_cat}
        FROM ev GROUP BY ALL
    ), cum AS (
        SELECT {c.VIEWER_ID}, snap,
               sum(n_events) OVER w AS n_events, sum(n_enters) OVER w AS n_enters,
               sum(watch_min) OVER w AS watch_min, sum(n_purchases) OVER w AS n_purchases,
               sum(spend) OVER w AS spend, sum(n_clicks) OVER w AS n_clicks,
               sum(n_product_impressions) OVER w AS n_pimps, count(*) OVER w AS days_active,
               {cum}
        FROM daily
        WINDOW w AS (PARTITION BY {c.VIEWER_ID} ORDER BY snap ROWS UNBOUNDED PRECEDING)
    ), snapshots AS (
        SELECT {c.VIEWER_ID}, snap AS {c.EVENT_TIMESTAMP},
               n_events::BIGINT AS {f.VIEWER_EVENTS_TOTAL},
               n_enters::BIGINT AS {f.VIEWER_ROOM_ENTERS_TOTAL},
               watch_min::DOUBLE AS {f.VIEWER_WATCH_MINUTES_TOTAL},
               n_purchases::BIGINT AS {f.VIEWER_PURCHASES_TOTAL},
               spend::DOUBLE AS {f.VIEWER_SPEND_TOTAL},
               CASE WHEN n_purchases > 0 THEN spend / n_purchases ELSE 0 END AS {f.VIEWER_AVG_ORDER_VALUE},
               {_rate("n_clicks", "n_pimps")} AS {f.VIEWER_CTR},
               days_active::BIGINT AS {f.VIEWER_DAYS_ACTIVE},
               [{shares}]::FLOAT[] AS {f.VIEWER_CATEGORY_AFFINITY},
               CASE WHEN {total} > 0 THEN
                   [{names}][list_position([{", ".join(f"aff_{i}" for i in range(len(categories)))}],
                              greatest({", ".join(f"aff_{i}" for i in range(len(categories)))}))]
               END AS {f.VIEWER_TOP_CATEGORY}
        FROM cum
        UNION ALL
        SELECT {c.VIEWER_ID}, {c.SIGNUP_TIMESTAMP}, 0, 0, 0.0, 0, 0.0, 0.0,
               {f.PRIOR_HITS} / {f.PRIOR_TRIALS}, 0, [{zeros}]::FLOAT[], NULL
        FROM viewers
    )
    SELECT s.*, v.{c.AGE_BAND}, v.{c.REGION}, v.{c.DEVICE},
           now() AS {c.CREATED_TIMESTAMP}
    FROM snapshots s JOIN viewers v USING ({c.VIEWER_ID})
    """


def product_profile_sql(start: str) -> str:
    return f"""
    WITH daily AS (
        SELECT {c.PRODUCT_ID}, date_trunc('day', {c.EVENT_TIMESTAMP}) + INTERVAL 1 DAY AS snap,
               count(*) FILTER (WHERE is_product_impression) AS n_imp,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'click') AS n_click,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'add_to_cart') AS n_cart,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'purchase') AS n_buy,
               coalesce(sum({c.AMOUNT}) FILTER (WHERE {c.EVENT_TYPE} = 'purchase'), 0) AS gmv
        FROM ev WHERE {c.PRODUCT_ID} IS NOT NULL GROUP BY ALL
    ), cum AS (
        SELECT {c.PRODUCT_ID}, snap, sum(n_imp) OVER w AS n_imp, sum(n_click) OVER w AS n_click,
               sum(n_cart) OVER w AS n_cart, sum(n_buy) OVER w AS n_buy, sum(gmv) OVER w AS gmv
        FROM daily
        WINDOW w AS (PARTITION BY {c.PRODUCT_ID} ORDER BY snap ROWS UNBOUNDED PRECEDING)
        UNION ALL
        SELECT {c.PRODUCT_ID}, {start}, 0, 0, 0, 0, 0.0 FROM products
    )
    SELECT cum.{c.PRODUCT_ID}, cum.snap AS {c.EVENT_TIMESTAMP},
           p.{c.STREAMER_ID} AS {f.PRODUCT_STREAMER_ID}, p.{c.TITLE} AS {f.PRODUCT_TITLE},
           p.{c.DESCRIPTION} AS {f.PRODUCT_DESCRIPTION}, p.{c.CATEGORY} AS {f.PRODUCT_CATEGORY},
           p.{c.BRAND} AS {f.PRODUCT_BRAND}, p.{c.PRICE} AS {f.PRODUCT_PRICE},
           p.{c.RATING} AS {f.PRODUCT_RATING}, p.{c.STOCK} AS {f.PRODUCT_STOCK},
           n_imp::BIGINT AS {f.PRODUCT_IMPRESSIONS}, n_click::BIGINT AS {f.PRODUCT_CLICKS},
           n_cart::BIGINT AS {f.PRODUCT_CARTS}, n_buy::BIGINT AS {f.PRODUCT_PURCHASES},
           {_rate("n_click", "n_imp")} AS {f.PRODUCT_CTR},
           {_rate("n_buy", "n_click")} AS {f.PRODUCT_CONVERSION},
           gmv::DOUBLE AS {f.PRODUCT_GMV},
           now() AS {c.CREATED_TIMESTAMP}
    FROM cum JOIN products p USING ({c.PRODUCT_ID})
    """


def room_profile_sql() -> str:
    return f"""
    SELECT {c.ROOM_ID}, {c.START_TIMESTAMP} AS {c.EVENT_TIMESTAMP},
           {c.STREAMER_ID} AS {f.ROOM_STREAMER_ID},
           {c.CATEGORY} AS {f.ROOM_CATEGORY}, {c.TITLE} AS {f.ROOM_TITLE},
           epoch({c.START_TIMESTAMP})::BIGINT AS {f.ROOM_START_UNIX},
           now() AS {c.CREATED_TIMESTAMP}
    FROM rooms
    """


def viewer_interest_sql() -> str:
    """The categories a viewer declared at sign-up, stamped at the sign-up time (static)."""
    return f"""
    SELECT {c.VIEWER_ID}, {c.SIGNUP_TIMESTAMP} AS {c.EVENT_TIMESTAMP},
           coalesce({c.INTEREST_CATEGORIES}, []::VARCHAR[]) AS {f.DECLARED_INTERESTS},
           now() AS {c.CREATED_TIMESTAMP}
    FROM viewers
    """
