"""The ``twitch`` preset: the real Twitch watch log (``twitch105k.csv``) read into the contract.

The log has one row per (user, streamer, 10-minute step) at which a user was first seen in a
streamer's chat, plus the streamer's community. It has no products, stop times or text, so this
adapter writes viewers, streamers, rooms and ``watch`` events only. Rooms (live sessions) are not
in the log: a streamer's watch steps are split into sessions wherever the gap between consecutive
steps exceeds ``session_gap_steps``. The file is checked against the published SHA-256 first, so
reference metrics measured on it stay comparable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from livecart.core.contract import (
    CATEGORY,
    DISPLAY_NAME,
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    FOLLOWER_COUNT,
    INTEREST_CATEGORIES,
    MAIN_CATEGORY,
    ROOM_ID,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STREAMER_ID,
    TITLE,
    UTC_TIMESTAMP,
    VIEWER_ID,
    EventType,
    Table,
)
from livecart.core.errors import ContractError
from livecart.core.settings import PROJECT_ROOT, LivecartSettings
from ray_jobs.ingest._common import input_file, sha256_file, viewer_ids
from ray_jobs.ingest._pipeline import Frame, Source

TWITCH_SHA256: Final = "5401df92c663e91057e526e5483271e83bad4849e80ce1f9f8fce670c48cdce7"
DEFAULT_TWITCH_PATH: Final = PROJECT_ROOT.parent / "shared" / "data" / "twitch105k.csv"

TWITCH_EPOCH: Final = datetime(2019, 10, 1, tzinfo=UTC)
"""UTC time of step 0.

The published log carries only relative 10-minute steps (0-6147, about 43 days); the crawl took
place in 2019 but its exact start is not part of this subset. A fixed, documented epoch makes
every run produce identical timestamps. 2019-10-01T00:00Z is midnight UTC, so steps fall on
10-minute clock boundaries, and it lies far in the past, so the validation gate's future-skew rule
never fires. Hour-of-day and weekday derived from these times are therefore not meaningful.
"""
STEP_MINUTES: Final = 10
_STEP_US: Final = STEP_MINUTES * 60 * 1_000_000
_EPOCH_US: Final = int(TWITCH_EPOCH.timestamp()) * 1_000_000
MAX_INTERESTS: Final = 3

# Columns of the source file (not contract names).
SRC_USER: Final = "user_id"
SRC_STREAMER: Final = "streamer_name"
SRC_STEP: Final = "start_time"
SRC_COMMUNITY: Final = "community"
SOURCE_COLUMNS: Final = (SRC_USER, SRC_STREAMER, SRC_STEP, SRC_COMMUNITY)
_ROW: Final = "_row"
_PREFIX: Final = "_twitch_"
"""Prefix of the log's columns kept on the events for the derive step (not contract columns)."""
_SESSION: Final = "_session"
_COUNT: Final = "_count"
_KEPT: Final = (*SOURCE_COLUMNS, _SESSION)


class TwitchOptions(BaseModel):
    """How the log is read; the defaults are the published file's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session_gap_steps: int = Field(
        default=6, ge=0, description="A gap of more steps than this between watches ends a room."
    )
    expected_sha256: str | None = Field(
        default=TWITCH_SHA256, description="Refuse a file with another hash (None: skip check)."
    )


def step_timestamps(steps: np.ndarray) -> pa.Array:
    """UTC timestamps of 10-minute steps counted from :data:`TWITCH_EPOCH`."""
    micros = _EPOCH_US + steps.astype(np.int64) * _STEP_US
    return pa.array(micros, type=UTC_TIMESTAMP)


def community_label(community: pd.Series) -> pd.Series:
    """``community-<k>``: the log's community codes as category strings."""
    return "community-" + community.astype(str)


def _most_common(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """Per ``keys``, the rows of ``column`` values ordered by count (desc), then value (asc)."""
    counts = frame.groupby([*keys, column], sort=False).size().reset_index(name=_COUNT)
    ascending = [True] * len(keys) + [False, True]
    return counts.sort_values([*keys, _COUNT, column], ascending=ascending, kind="stable")


def _load(path: Path, expected_sha256: str | None) -> tuple[pd.DataFrame, str]:
    path = input_file(path, "Twitch log", " (see shared/data/README.md)")
    digest = sha256_file(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise ContractError(
            str(path),
            None,
            f"sha256 mismatch: expected {expected_sha256}, found {digest}; "
            "the file is not the published twitch105k.csv",
        )
    try:
        frame = pd.read_csv(path, index_col=0)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError is a ValueError
        raise ContractError(str(path), None, f"not a readable CSV file ({exc})") from exc
    for column in SOURCE_COLUMNS:
        if column not in frame.columns:
            raise ContractError(str(path), column, "missing required column")
        if frame[column].isna().any():
            raise ContractError(str(path), column, "null values in a required column")
    try:
        frame = frame[list(SOURCE_COLUMNS)].astype(np.int64)
    except ValueError as exc:
        raise ContractError(str(path), None, f"non-integer values ({exc})") from exc
    frame[_ROW] = frame.index.to_numpy(dtype=np.int64)
    return frame.reset_index(drop=True), digest


def assign_sessions(frame: pd.DataFrame, gap_steps: int) -> pd.Series:
    """Session number (0, 1, ...) of each row within its streamer, split at gaps > gap_steps."""
    ordered = frame.sort_values([SRC_STREAMER, SRC_STEP, _ROW], kind="stable")
    new_streamer = ordered[SRC_STREAMER].diff().fillna(1).ne(0)
    gap = ordered[SRC_STEP].diff().fillna(0).gt(gap_steps)
    starts = (new_streamer | gap).astype(np.int64)
    session = starts.groupby(ordered[SRC_STREAMER], sort=False).cumsum() - 1
    return session.reindex(frame.index)


def _viewers(frame: pd.DataFrame, settings: LivecartSettings) -> pa.Table:
    by_user = frame.groupby(SRC_USER, sort=True)
    first = by_user[SRC_STEP].min()
    ranked = _most_common(frame, [SRC_USER], SRC_COMMUNITY)
    top = ranked.groupby(SRC_USER, sort=False).head(MAX_INTERESTS)
    labels = community_label(top[SRC_COMMUNITY])
    interests = labels.groupby(top[SRC_USER], sort=True).agg(list).reindex(first.index)
    external = ("tw-u" + first.index.astype(str)).tolist()
    return pa.table(
        {
            VIEWER_ID: viewer_ids(external, settings),
            SIGNUP_TIMESTAMP: step_timestamps(first.to_numpy()),
            INTEREST_CATEGORIES: pa.array(interests.tolist(), type=pa.list_(pa.string())),
        }
    )


def _streamers(frame: pd.DataFrame) -> pa.Table:
    followers = frame.groupby(SRC_STREAMER, sort=True)[SRC_USER].nunique()
    ranked = _most_common(frame, [SRC_STREAMER], SRC_COMMUNITY).drop_duplicates(SRC_STREAMER)
    main = ranked.set_index(SRC_STREAMER)[SRC_COMMUNITY].reindex(followers.index)
    ids = followers.index.astype(str)
    return pa.table(
        {
            STREAMER_ID: pa.array(("tw-s" + ids).tolist(), type=pa.string()),
            DISPLAY_NAME: pa.array(("streamer " + ids).tolist(), type=pa.string()),
            MAIN_CATEGORY: pa.array(community_label(main).tolist(), type=pa.string()),
            FOLLOWER_COUNT: pa.array(followers.to_numpy(dtype=np.int64), type=pa.int64()),
        }
    )


def _rooms(frame: pd.DataFrame) -> pa.Table:
    keys = [SRC_STREAMER, _SESSION]
    spans = frame.groupby(keys, sort=True)[SRC_STEP].agg(["min", "max"])
    ranked = _most_common(frame, keys, SRC_COMMUNITY).drop_duplicates(keys)
    category = ranked.set_index(keys)[SRC_COMMUNITY].reindex(spans.index)
    streamer = spans.index.get_level_values(SRC_STREAMER).astype(str)
    session = spans.index.get_level_values(_SESSION).astype(str)
    label = community_label(category.reset_index(drop=True))
    title = "streamer " + pd.Series(streamer) + " live (" + label + ")"
    return pa.table(
        {
            ROOM_ID: pa.array(("tw-r" + streamer + "-" + session).tolist(), type=pa.string()),
            STREAMER_ID: pa.array(("tw-s" + streamer).tolist(), type=pa.string()),
            TITLE: pa.array(title.tolist(), type=pa.string()),
            CATEGORY: pa.array(label.tolist(), type=pa.string()),
            START_TIMESTAMP: step_timestamps(spans["min"].to_numpy()),
            END_TIMESTAMP: step_timestamps(spans["max"].to_numpy() + 1),
        }
    )


def _events(frame: pd.DataFrame, settings: LivecartSettings) -> pa.Table:
    """Watch events in time order, with the log's own columns (:data:`_KEPT`) for the derive step;
    the conform to the contract drops those."""
    ordered = frame.sort_values([SRC_STEP, _ROW], kind="stable")
    streamer = ordered[SRC_STREAMER].astype(str)
    room = "tw-r" + streamer + "-" + ordered[_SESSION].astype(str)
    external = ("tw-u" + ordered[SRC_USER].astype(str)).tolist()
    events = pa.table(
        {
            EVENT_ID: pa.array(("tw-e" + ordered[_ROW].astype(str)).tolist(), type=pa.string()),
            EVENT_TYPE: pa.array([EventType.WATCH.value] * len(ordered), type=pa.string()),
            EVENT_TIMESTAMP: step_timestamps(ordered[SRC_STEP].to_numpy()),
            VIEWER_ID: viewer_ids(external, settings),
            ROOM_ID: pa.array(room.tolist(), type=pa.string()),
            STREAMER_ID: pa.array(("tw-s" + streamer).tolist(), type=pa.string()),
        }
    )
    for column in _KEPT:
        events = events.append_column(_PREFIX + column, pa.array(ordered[column].to_numpy()))
    return events


def read_twitch(
    path: Path, options: TwitchOptions, settings: LivecartSettings, progress: bool
) -> Source:
    """Check the hash, read the log, split each streamer's watches into sessions (rooms) and map
    the rows to ``watch`` events at :data:`TWITCH_EPOCH` + step * 10 minutes."""
    stages = ("read + sha256", "sessions", "events")
    with tqdm(total=len(stages), desc="twitch read", disable=not progress) as bar:
        bar.set_postfix_str(stages[0])
        frame, digest = _load(path, options.expected_sha256)
        bar.update()
        bar.set_postfix_str(stages[1])
        frame[_SESSION] = assign_sessions(frame, options.session_gap_steps)
        bar.update()
        bar.set_postfix_str(stages[2])
        events = _events(frame, settings)
        bar.update()
    facts: dict[str, object] = {"source": str(path), "rows": len(frame), "sha256": digest}
    return Source({Table.EVENTS: events}, {Table.EVENTS: str(path)}, facts=facts)


def derive_twitch(frames: dict[Table, Frame], settings: LivecartSettings) -> list[str]:
    """Viewers, streamers and rooms from the log's columns kept on the events."""
    events = frames[Table.EVENTS]
    assert isinstance(events, pa.Table)  # read_twitch's
    kept = events.select([_PREFIX + column for column in _KEPT]).to_pandas()
    frame = kept.rename(columns=lambda name: name.removeprefix(_PREFIX))
    frames[Table.VIEWERS] = _viewers(frame, settings)
    frames[Table.STREAMERS] = _streamers(frame)
    frames[Table.ROOMS] = _rooms(frame)
    return [
        "viewers (sign-up at the first watch; interests: top communities)",
        "streamers (main community; followers: distinct viewers)",
        "rooms (a streamer's watches split into sessions at gaps > session_gap_steps)",
    ]
