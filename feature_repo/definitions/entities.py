"""The four entities of live commerce."""

from feast import Entity, ValueType

from livecart.core import contract as c

viewer = Entity(
    name="viewer",
    join_keys=[c.VIEWER_ID],
    value_type=ValueType.STRING,
    description="A pseudonymous viewer.",
)
streamer = Entity(
    name="streamer",
    join_keys=[c.STREAMER_ID],
    value_type=ValueType.STRING,
    description="A streamer (seller) who goes live.",
)
room = Entity(
    name="room",
    join_keys=[c.ROOM_ID],
    value_type=ValueType.STRING,
    description="One live session of a streamer.",
)
product = Entity(
    name="product",
    join_keys=[c.PRODUCT_ID],
    value_type=ValueType.STRING,
    description="A product a streamer sells.",
)
