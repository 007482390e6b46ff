"""Fast-moving features: viewer behaviour windows, room and product live stats, viewer x streamer affinity.

These are the views that serving later keeps fresh with Feast ``push``. Offline, a row is written
for every moment the state changes, stamped one microsecond after the events it includes.
"""

from __future__ import annotations

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.features.sql.base import AFTER


def viewer_behavior_sql() -> str:
    windows = ",\n".join(
        f"sum(n) OVER (PARTITION BY {c.VIEWER_ID} ORDER BY {c.EVENT_TIMESTAMP} "
        f"RANGE BETWEEN INTERVAL {w} MINUTE PRECEDING AND CURRENT ROW)::BIGINT AS {name}"
        for w, name in zip(f.BEHAVIOR_WINDOWS_MIN, f.BEHAVIOR_EVENT_COUNTS, strict=True)
    )

    def last_items(event_type: str, column: str) -> str:
        return f"""
        SELECT {c.VIEWER_ID}, {c.EVENT_TIMESTAMP},
               list({column}) OVER (PARTITION BY {c.VIEWER_ID} ORDER BY {c.EVENT_TIMESTAMP}, {c.EVENT_ID}
                                   ROWS BETWEEN {f.LAST_ITEMS - 1} PRECEDING AND CURRENT ROW) AS items
        FROM ev WHERE {c.EVENT_TYPE} = '{event_type}'
        QUALIFY row_number() OVER (PARTITION BY {c.VIEWER_ID}, {c.EVENT_TIMESTAMP}
                                   ORDER BY {c.EVENT_ID} DESC) = 1
        """

    def recent(column: str, minutes: int, name: str) -> str:
        return (
            f"sum({column}) OVER (PARTITION BY {c.VIEWER_ID} ORDER BY {c.EVENT_TIMESTAMP} "
            f"RANGE BETWEEN INTERVAL {minutes} MINUTE PRECEDING AND CURRENT ROW)::BIGINT AS {name}"
        )

    return f"""
    WITH g AS (
        SELECT {c.VIEWER_ID}, {c.EVENT_TIMESTAMP}, count(*) AS n,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'click') AS n_click,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'add_to_cart') AS n_cart,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'purchase') AS n_buy
        FROM ev GROUP BY ALL
    ), w AS (
        SELECT {c.VIEWER_ID}, {c.EVENT_TIMESTAMP},
               {windows},
               {recent("n_click", 30, f.CLICKS_30M)},
               {recent("n_cart", 1440, f.CARTS_1440M)},
               {recent("n_buy", 1440, f.PURCHASES_1440M)}
        FROM g
    ), rooms_seen AS ({last_items("enter_room", c.ROOM_ID)}),
       products_seen AS ({last_items("click", c.PRODUCT_ID)}),
       products_bought AS ({last_items("purchase", c.PRODUCT_ID)})
    SELECT w.{c.VIEWER_ID}, w.{c.EVENT_TIMESTAMP} + {AFTER} AS {c.EVENT_TIMESTAMP},
           {", ".join(f"w.{n}" for n in f.BEHAVIOR_EVENT_COUNTS)},
           w.{f.CLICKS_30M}, w.{f.CARTS_1440M}, w.{f.PURCHASES_1440M},
           coalesce(r.items, []::VARCHAR[]) AS {f.LAST_ROOMS},
           coalesce(p.items, []::VARCHAR[]) AS {f.LAST_PRODUCTS},
           coalesce(pb.items, []::VARCHAR[]) AS {f.LAST_PURCHASES},
           now() AS {c.CREATED_TIMESTAMP}
    FROM w
    ASOF LEFT JOIN rooms_seen r
        ON w.{c.VIEWER_ID} = r.{c.VIEWER_ID} AND w.{c.EVENT_TIMESTAMP} >= r.{c.EVENT_TIMESTAMP}
    ASOF LEFT JOIN products_seen p
        ON w.{c.VIEWER_ID} = p.{c.VIEWER_ID} AND w.{c.EVENT_TIMESTAMP} >= p.{c.EVENT_TIMESTAMP}
    ASOF LEFT JOIN products_bought pb
        ON w.{c.VIEWER_ID} = pb.{c.VIEWER_ID} AND w.{c.EVENT_TIMESTAMP} >= pb.{c.EVENT_TIMESTAMP}
    """


def room_live_stats_sql() -> str:
    bucket = f"time_bucket(INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE, {c.EVENT_TIMESTAMP})"
    return f"""
    WITH b AS (
        SELECT {c.ROOM_ID}, {bucket} + INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE AS bucket_end,
               count(DISTINCT {c.VIEWER_ID}) FILTER (WHERE {c.EVENT_TYPE} = 'enter_room') AS viewers,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'enter_room') AS enters,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'comment') AS comments,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'like') AS likes,
               coalesce(sum({c.GIFT_VALUE}) FILTER (WHERE {c.EVENT_TYPE} = 'gift'), 0) AS gifts,
               count(*) FILTER (WHERE {c.EVENT_TYPE} = 'purchase') AS purchases,
               coalesce(sum({c.AMOUNT}) FILTER (WHERE {c.EVENT_TYPE} = 'purchase'), 0) AS gmv
        FROM ev GROUP BY ALL
    ), cum AS (
        SELECT *, sum(enters) OVER w AS enters_total, sum(comments) OVER w AS comments_total,
               sum(likes) OVER w AS likes_total, sum(purchases) OVER w AS purchases_total,
               sum(gmv) OVER w AS gmv_total
        FROM b WINDOW w AS (PARTITION BY {c.ROOM_ID} ORDER BY bucket_end ROWS UNBOUNDED PRECEDING)
    )
    SELECT {c.ROOM_ID}, bucket_end AS {c.EVENT_TIMESTAMP},
           viewers::BIGINT AS {f.ROOM_VIEWERS_5M}, comments::BIGINT AS {f.ROOM_COMMENTS_5M},
           likes::BIGINT AS {f.ROOM_LIKES_5M}, gifts::DOUBLE AS {f.ROOM_GIFT_VALUE_5M},
           comments_total / greatest(enters_total, 1) AS {f.ROOM_COMMENT_RATE},
           likes_total / greatest(enters_total, 1) AS {f.ROOM_LIKE_RATE},
           enters_total::BIGINT AS {f.ROOM_ENTERS_TOTAL},
           purchases_total::BIGINT AS {f.ROOM_PURCHASES_TOTAL},
           gmv_total::DOUBLE AS {f.ROOM_GMV_TOTAL},
           now() AS {c.CREATED_TIMESTAMP}
    FROM cum
    """


def viewer_streamer_affinity_sql() -> str:
    def count(event_type: str) -> str:
        return f"count(*) FILTER (WHERE {c.EVENT_TYPE} = '{event_type}')"

    return f"""
    WITH g AS (
        SELECT {c.VIEWER_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP},
               {count("enter_room")} AS enters,
               coalesce(sum({c.WATCH_SECONDS}) FILTER (WHERE {c.EVENT_TYPE} = 'watch'), 0) / 60.0 AS watch_min,
               {count("like")} AS likes, {count("comment")} AS comments,
               coalesce(sum({c.GIFT_VALUE}) FILTER (WHERE {c.EVENT_TYPE} = 'gift'), 0) AS gifts,
               {count("purchase")} AS purchases, {count("follow")} AS follows
        FROM ev WHERE {c.EVENT_TYPE} <> 'impression' GROUP BY ALL
    )
    SELECT {c.VIEWER_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP} + {AFTER} AS {c.EVENT_TIMESTAMP},
           (sum(enters) OVER w)::BIGINT AS {f.VS_ENTERS},
           (sum(watch_min) OVER w)::DOUBLE AS {f.VS_WATCH_MINUTES},
           (sum(likes) OVER w)::BIGINT AS {f.VS_LIKES},
           (sum(comments) OVER w)::BIGINT AS {f.VS_COMMENTS},
           (sum(gifts) OVER w)::DOUBLE AS {f.VS_GIFT_VALUE},
           (sum(purchases) OVER w)::BIGINT AS {f.VS_PURCHASES},
           least(sum(follows) OVER w, 1)::BIGINT AS {f.VS_FOLLOWS},
           now() AS {c.CREATED_TIMESTAMP}
    FROM g
    WINDOW w AS (PARTITION BY {c.VIEWER_ID}, {c.STREAMER_ID} ORDER BY {c.EVENT_TIMESTAMP}
                 ROWS UNBOUNDED PRECEDING)
    """


def product_live_stats_sql() -> str:
    """Impressions, clicks, carts and purchases of each product over the last 30 minutes."""
    kinds = ("impression", "click", "add_to_cart", "purchase")

    def window(kind: str) -> str:
        return f"sum(n_{kind}) OVER w"

    counts = ",\n".join(
        f"count(*) FILTER (WHERE {c.EVENT_TYPE} = '{kind}') AS n_{kind}" for kind in kinds
    )
    sums = ",\n".join(
        f"({window(kind)})::BIGINT AS {name}"
        for kind, name in zip(kinds, f.PRODUCT_LIVE_COUNTS, strict=True)
    )
    return f"""
    WITH g AS (
        SELECT {c.PRODUCT_ID}, {c.EVENT_TIMESTAMP}, {counts}
        FROM ev WHERE {c.PRODUCT_ID} IS NOT NULL GROUP BY ALL
    )
    SELECT {c.PRODUCT_ID}, {c.EVENT_TIMESTAMP} + {AFTER} AS {c.EVENT_TIMESTAMP},
           {sums},
           now() AS {c.CREATED_TIMESTAMP}
    FROM g
    WINDOW w AS (PARTITION BY {c.PRODUCT_ID} ORDER BY {c.EVENT_TIMESTAMP}
                 RANGE BETWEEN INTERVAL {f.LIVE_STATS_MINUTES} MINUTE PRECEDING AND CURRENT ROW)
    """
