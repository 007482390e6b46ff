"""The live-commerce data contract: entity, event and column names, defined once.

Every job, validation suite, Feast definition and serving schema imports its names from here.
Raw tables are Parquet files whose Arrow schemas are given below; timestamps are UTC
(``timestamp[us, tz=UTC]``). Viewer ids are pseudonymous: no names, contacts or addresses are
part of any schema.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import pyarrow as pa

# --- entity keys -------------------------------------------------------------------------
VIEWER_ID: Final = "viewer_id"
STREAMER_ID: Final = "streamer_id"
ROOM_ID: Final = "room_id"
PRODUCT_ID: Final = "product_id"

# --- shared columns ----------------------------------------------------------------------
EVENT_ID: Final = "event_id"
EVENT_TYPE: Final = "event_type"
EVENT_TIMESTAMP: Final = "event_timestamp"
CREATED_TIMESTAMP: Final = "created_timestamp"
WATCH_SECONDS: Final = "watch_seconds"
AMOUNT: Final = "amount"
GIFT_VALUE: Final = "gift_value"
TEXT: Final = "text"

SIGNUP_TIMESTAMP: Final = "signup_timestamp"
AGE_BAND: Final = "age_band"
REGION: Final = "region"
DEVICE: Final = "device"
INTEREST_CATEGORIES: Final = "interest_categories"
SHOPPING_FOR: Final = "shopping_for"
"""A viewer's own words at sign-up on what they shop for (free text; optional)."""

DISPLAY_NAME: Final = "display_name"
MAIN_CATEGORY: Final = "main_category"
FOLLOWER_COUNT: Final = "follower_count"

TITLE: Final = "title"
CATEGORY: Final = "category"
START_TIMESTAMP: Final = "start_timestamp"
END_TIMESTAMP: Final = "end_timestamp"

DESCRIPTION: Final = "description"
BRAND: Final = "brand"
PRICE: Final = "price"
RATING: Final = "rating"
STOCK: Final = "stock"

# A generated world's planted truth under ``<home>/truth`` (written by the simulator, read by its
# oracle; the comment labels also train the comment probe): one Parquet file or folder each.
TRUTH_VIEWERS: Final = "viewer_truth"
TRUTH_PRODUCTS: Final = "product_truth"
TRUTH_STREAMERS: Final = "streamer_truth"
TRUTH_FAVOURITES: Final = "favourites"
TRUTH_COMMENT_LABELS: Final = "comment_labels"
TRUTH_FAULTS: Final = "injected_faults"
COMMENT_KINDS: Final = ("negative", "positive", "intent")  # the comment probe's classes

QUARANTINE_REASON: Final = "quarantine_reason"
QUARANTINE_SOURCE: Final = "quarantine_source"


class EventType(StrEnum):
    """Viewer actions. ``impression`` with a product_id is a product shown; without, a room shown."""

    IMPRESSION = "impression"
    ENTER_ROOM = "enter_room"
    WATCH = "watch"
    LIKE = "like"
    COMMENT = "comment"
    FOLLOW = "follow"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    GIFT = "gift"


EVENT_TYPES: Final[tuple[str, ...]] = tuple(e.value for e in EventType)
PRODUCT_EVENT_TYPES: Final[tuple[str, ...]] = (
    EventType.CLICK.value,
    EventType.ADD_TO_CART.value,
    EventType.PURCHASE.value,
)

CATEGORIES: Final[tuple[str, ...]] = (
    "fashion",
    "beauty",
    "electronics",
    "home",
    "food",
    "sports",
    "toys",
    "books",
    "jewelry",
    "pets",
    "outdoors",
    "gaming",
)
AGE_BANDS: Final[tuple[str, ...]] = ("18-24", "25-34", "35-44", "45-54", "55+")
REGIONS: Final[tuple[str, ...]] = ("north", "south", "east", "west", "central")
DEVICES: Final[tuple[str, ...]] = ("ios", "android", "web")

UTC_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")


class Table(StrEnum):
    """Raw sources of the contract; the value is the Parquet file stem."""

    VIEWERS = "viewers"
    STREAMERS = "streamers"
    ROOMS = "rooms"
    PRODUCTS = "products"
    ROOM_PRODUCTS = "room_products"
    EVENTS = "events"


SCHEMAS: Final[dict[Table, pa.Schema]] = {
    Table.VIEWERS: pa.schema(
        [
            (VIEWER_ID, pa.string()),
            (SIGNUP_TIMESTAMP, UTC_TIMESTAMP),
            (AGE_BAND, pa.string()),
            (REGION, pa.string()),
            (DEVICE, pa.string()),
            (INTEREST_CATEGORIES, pa.list_(pa.string())),
            (SHOPPING_FOR, pa.string()),
        ]
    ),
    Table.STREAMERS: pa.schema(
        [
            (STREAMER_ID, pa.string()),
            (DISPLAY_NAME, pa.string()),
            (MAIN_CATEGORY, pa.string()),
            (FOLLOWER_COUNT, pa.int64()),
        ]
    ),
    Table.ROOMS: pa.schema(
        [
            (ROOM_ID, pa.string()),
            (STREAMER_ID, pa.string()),
            (TITLE, pa.string()),
            (CATEGORY, pa.string()),
            (START_TIMESTAMP, UTC_TIMESTAMP),
            (END_TIMESTAMP, UTC_TIMESTAMP),
        ]
    ),
    Table.PRODUCTS: pa.schema(
        [
            (PRODUCT_ID, pa.string()),
            (STREAMER_ID, pa.string()),
            (TITLE, pa.string()),
            (DESCRIPTION, pa.string()),
            (CATEGORY, pa.string()),
            (BRAND, pa.string()),
            (PRICE, pa.float64()),
            (RATING, pa.float64()),
            (STOCK, pa.int64()),
        ]
    ),
    Table.ROOM_PRODUCTS: pa.schema([(ROOM_ID, pa.string()), (PRODUCT_ID, pa.string())]),
    Table.EVENTS: pa.schema(
        [
            (EVENT_ID, pa.string()),
            (EVENT_TYPE, pa.string()),
            (EVENT_TIMESTAMP, UTC_TIMESTAMP),
            (VIEWER_ID, pa.string()),
            (ROOM_ID, pa.string()),
            (STREAMER_ID, pa.string()),
            (PRODUCT_ID, pa.string()),
            (WATCH_SECONDS, pa.float64()),
            (AMOUNT, pa.float64()),
            (GIFT_VALUE, pa.float64()),
            (TEXT, pa.string()),
        ]
    ),
}

# Columns that must be present and non-null in every row of a source.
REQUIRED_COLUMNS: Final[dict[Table, tuple[str, ...]]] = {
    Table.VIEWERS: (VIEWER_ID, SIGNUP_TIMESTAMP),
    Table.STREAMERS: (STREAMER_ID, DISPLAY_NAME, MAIN_CATEGORY),
    Table.ROOMS: (ROOM_ID, STREAMER_ID, TITLE, CATEGORY, START_TIMESTAMP, END_TIMESTAMP),
    Table.PRODUCTS: (PRODUCT_ID, STREAMER_ID, TITLE, CATEGORY, BRAND, PRICE),
    Table.ROOM_PRODUCTS: (ROOM_ID, PRODUCT_ID),
    Table.EVENTS: (EVENT_ID, EVENT_TYPE, EVENT_TIMESTAMP, VIEWER_ID, ROOM_ID, STREAMER_ID),
}

# The primary key of each source (uniqueness is checked by the validation gate).
PRIMARY_KEYS: Final[dict[Table, tuple[str, ...]]] = {
    Table.VIEWERS: (VIEWER_ID,),
    Table.STREAMERS: (STREAMER_ID,),
    Table.ROOMS: (ROOM_ID,),
    Table.PRODUCTS: (PRODUCT_ID,),
    Table.ROOM_PRODUCTS: (ROOM_ID, PRODUCT_ID),
    Table.EVENTS: (EVENT_ID,),
}

# Sources are validated in this order, so that references can be checked against clean parents.
VALIDATION_ORDER: Final[tuple[Table, ...]] = (
    Table.VIEWERS,
    Table.STREAMERS,
    Table.ROOMS,
    Table.PRODUCTS,
    Table.ROOM_PRODUCTS,
    Table.EVENTS,
)
