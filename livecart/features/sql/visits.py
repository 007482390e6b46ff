"""Visits: what the room ranker's signals are computed from, point in time.

* ``viewer_visits`` (per viewer): the latest :data:`VISIT_HISTORY_LENGTH` visits, streamers and
  time units, oldest first; a row for every moment the viewer visits.
* ``streamer_visits`` (per streamer): visits per time unit over the last
  :data:`VISIT_HORIZON_UNITS` units, the all-time total and the unit of the visits before the
  latest; a row per (streamer, unit), stamped after that unit's last visit.

Which events are visits depends on the dataset (``event_types``; see
:data:`livecart.model.interaction_log.DATASET_EVENT_TYPES`). The room signals read these rows as of
a time exactly as :class:`livecart.model.room_signals.LiveContext` reads the log (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.features.sql.base import AFTER


def _visits(event_types: Sequence[str]) -> str:
    kinds = ", ".join(f"'{t}'" for t in event_types)
    unit_us = f.VISIT_UNIT_SECONDS * 1_000_000
    return f"""
        SELECT {c.VIEWER_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP}, {c.EVENT_ID},
               (epoch_us({c.EVENT_TIMESTAMP}) // {unit_us})::BIGINT AS unit
        FROM ev
        WHERE {c.EVENT_TYPE} IN ({kinds}) AND {c.VIEWER_ID} IS NOT NULL
              AND {c.STREAMER_ID} IS NOT NULL AND {c.EVENT_TIMESTAMP} IS NOT NULL
    """


def viewer_visits_sql(event_types: Sequence[str]) -> str:
    return f"""
    WITH v AS ({_visits(event_types)})
    SELECT {c.VIEWER_ID}, {c.EVENT_TIMESTAMP} + {AFTER} AS {c.EVENT_TIMESTAMP},
           list({c.STREAMER_ID}) OVER w AS {f.VISIT_STREAMERS},
           list(unit) OVER w AS {f.VISIT_UNITS},
           now() AS {c.CREATED_TIMESTAMP}
    FROM v
    WINDOW w AS (PARTITION BY {c.VIEWER_ID} ORDER BY {c.EVENT_TIMESTAMP}, {c.EVENT_ID}
                 ROWS BETWEEN {f.VISIT_HISTORY_LENGTH - 1} PRECEDING AND CURRENT ROW)
    QUALIFY row_number() OVER (PARTITION BY {c.VIEWER_ID}, {c.EVENT_TIMESTAMP}
                               ORDER BY {c.EVENT_ID} DESC) = 1
    """


def streamer_visits_sql(event_types: Sequence[str]) -> str:
    return f"""
    WITH v AS ({_visits(event_types)}),
    u AS (
        SELECT {c.STREAMER_ID}, unit, count(*)::BIGINT AS n, max({c.EVENT_TIMESTAMP}) AS last_ts
        FROM v GROUP BY ALL
    )
    SELECT {c.STREAMER_ID}, last_ts + {AFTER} AS {c.EVENT_TIMESTAMP},
           list(unit) OVER recent AS {f.STREAMER_VISIT_UNITS},
           list(n) OVER recent AS {f.STREAMER_VISIT_COUNTS},
           (sum(n) OVER (PARTITION BY {c.STREAMER_ID} ORDER BY unit
                         ROWS UNBOUNDED PRECEDING))::BIGINT AS {f.STREAMER_VISITS_TOTAL},
           coalesce(lag(unit) OVER (PARTITION BY {c.STREAMER_ID} ORDER BY unit), -1)::BIGINT
               AS {f.STREAMER_PREVIOUS_UNIT},
           now() AS {c.CREATED_TIMESTAMP}
    FROM u
    WINDOW recent AS (PARTITION BY {c.STREAMER_ID} ORDER BY unit
                      RANGE BETWEEN {f.VISIT_HORIZON_UNITS} PRECEDING AND CURRENT ROW)
    """
