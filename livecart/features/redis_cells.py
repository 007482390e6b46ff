"""Feast's Redis values decoded a column at a time, without a ValueProto per value.

Feast's Redis store keeps each feature of an entity as a serialized ``ValueProto`` in the entity's
hash. Its read path parses every value into a ``ValueProto`` and serving then took each one's
Python value (:func:`livecart.online.codec.scalar_of`): about 2,400 values a feed request, the
384-wide text embeddings as Python lists of floats. The columns a request reads are typed, so
:func:`column_of` reads the protobuf wire format of the shapes Feast writes for them (a double, a
float, a varint integer, a string, a bool; a packed list of floats, doubles or integers straight
into numpy) and hands any other value, one by one, to protobuf's own parser: a value this module
does not recognise is decoded as before, never differently. ``tests/unit/test_redis_cells.py`` compares
both ways for every type, unset and null values, negatives, non-finite floats, empty and unicode
strings, empty and wrong-length lists.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
from feast import Field
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.online.codec import arrow_type, scalar_of, value_field

Cell = bytes | None
"""One HMGET answer: a serialized ValueProto, or None (or empty) when the key has no value."""
_SLOW: Final = object()
"""What a decoder answers for a value it does not recognise (protobuf's parser then decodes it)."""
_FIELDS = ValueProto.DESCRIPTOR.fields_by_name
_I64, _LEN, _I32, _VARINT = 1, 2, 5, 0
_F64, _F32 = struct.Struct("<d"), struct.Struct("<f")


def _varint_bytes(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _tag(name: str, wire: int) -> bytes:
    return _varint_bytes((_FIELDS[name].number << 3) | wire)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fixed(name: str, wire: int, unpack: struct.Struct) -> Callable[[bytes], Any]:
    tag = _tag(name, wire)
    size = len(tag) + unpack.size

    def decode(cell: bytes) -> Any:
        if len(cell) == size and cell.startswith(tag):
            return unpack.unpack_from(cell, len(tag))[0]
        return _SLOW

    return decode


def _integer(name: str, bits: int) -> Callable[[bytes], Any]:
    tag = _tag(name, _VARINT)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def decode(cell: bytes) -> Any:
        if not cell.startswith(tag):
            return _SLOW
        value, end = _varint(cell, len(tag))
        if end != len(cell) or value >= 1 << 64:
            return _SLOW
        value = value - (1 << 64) if value >= 1 << 63 else value  # two's complement, 64 bits
        return value if low <= value <= high else _SLOW  # out of range: as protobuf reads it

    return decode


def _string(cell: bytes, tag: bytes = _tag("string_val", _LEN)) -> Any:
    if not cell.startswith(tag):
        return _SLOW
    size, start = _varint(cell, len(tag))
    if start + size != len(cell):
        return _SLOW
    return cell[start:].decode("utf-8")


def _bool(cell: bytes, tag: bytes = _tag("bool_val", _VARINT)) -> Any:
    if len(cell) == len(tag) + 1 and cell.startswith(tag) and cell[-1] in (0, 1):
        return bool(cell[-1])
    return _SLOW


_SCALARS: Final[dict[str, Callable[[bytes], Any]]] = {
    "double_val": _fixed("double_val", _I64, _F64),
    "float_val": _fixed("float_val", _I32, _F32),
    "int64_val": _integer("int64_val", 64),
    "int32_val": _integer("int32_val", 32),
    "string_val": _string,
    "bool_val": _bool,
}
_PACKED: Final[dict[str, tuple[bytes, np.dtype[Any]]]] = {
    "float_list_val": (_tag("float_list_val", _LEN), np.dtype("<f4")),
    "double_list_val": (_tag("double_list_val", _LEN), np.dtype("<f8")),
    "int64_list_val": (_tag("int64_list_val", _LEN), np.dtype(np.int64)),
    "int32_list_val": (_tag("int32_list_val", _LEN), np.dtype(np.int64)),
}
_WIDTHS: Final[dict[str, tuple[bytes, int, np.dtype[Any]]]] = {
    name: (tag, len(tag) + size, np.dtype(dtype))
    for name, wire, size, dtype in (
        ("double_val", _I64, 8, "<f8"),
        ("float_val", _I32, 4, "<f4"),
        ("int64_val", _VARINT, 1, "u1"),
        ("int32_val", _VARINT, 1, "u1"),
    )
    for tag in [_tag(name, wire)]
}
_INNER: Final = bytes([(1 << 3) | _LEN])  # FloatList, Int64List...: ``repeated val = 1``, packed


SMALL: Final = 2
"""Columns of at most this many cells (a viewer's own row) are read value by value: numpy's
fixed cost per column is larger than the per-value decoders' for one or two values."""


def column_of(cells: Sequence[Cell], field: Field) -> pa.Array:
    """``cells`` of one feature as an Arrow array of :func:`arrow_type` (an opaque feature's
    values stay serialized), equal to each parsed ValueProto's :func:`scalar_of`."""
    return decoder_of(field)(cells)


def decoder_of(field: Field) -> Callable[[Sequence[Cell]], pa.Array]:
    """:func:`column_of` for ``field``, its Arrow type and decoders chosen once (a reader keeps
    one per feature it reads: the choice cost more than decoding a one-row column)."""
    kind = arrow_type(field)
    held = value_field(field)
    if held is None:  # an opaque feature: kept serialized
        return lambda cells: pa.array([_opaque(cell) for cell in cells], type=kind)
    name, is_list = held
    packed = is_list and name in _PACKED
    fixed = not is_list and name in _WIDTHS
    decode = None if is_list else _SCALARS.get(name)

    def column(cells: Sequence[Cell]) -> pa.Array:
        if packed:
            found = _packed(cells, name, kind)
            if found is not None:
                return found
        elif fixed and len(cells) > SMALL:
            found = _fixed_width(cells, name, kind)
            if found is not None:
                return found
        return pa.array([_value(cell, decode) if cell else None for cell in cells], type=kind)

    return column


def _fixed_width(cells: Sequence[Cell], name: str, kind: pa.DataType) -> pa.Array | None:
    """A scalar column whose every value has one width (a double, a float, an integer below
    128) read in one numpy pass; None when any value has another shape."""
    tag, width, dtype = _WIDTHS[name]
    valid = np.fromiter((bool(cell) for cell in cells), dtype=np.bool_, count=len(cells))
    held = [cell for cell in cells if cell]
    if any(len(cell) != width for cell in held):
        return None
    raw = np.frombuffer(b"".join(held), dtype=np.uint8).reshape(-1, width)
    if not (raw[:, : len(tag)] == np.frombuffer(tag, dtype=np.uint8)).all():
        return None
    body = raw[:, len(tag) :]
    if dtype.kind == "u":  # a one-byte varint: the high bit clear
        if (body[:, 0] >= 0x80).any():
            return None
        values = body[:, 0].astype(np.int64)
    else:
        values = np.ascontiguousarray(body).view(dtype).reshape(-1)
    filled = np.zeros(len(cells), dtype=values.dtype)
    filled[valid] = values
    return pa.array(filled, type=kind, mask=~valid)


def _value(cell: bytes, decode: Callable[[bytes], Any] | None) -> Any:
    if decode is not None:
        try:
            value = decode(cell)
        except (IndexError, UnicodeDecodeError):
            value = _SLOW
        if value is not _SLOW:
            return value
    return scalar_of(ValueProto.FromString(cell))


def _opaque(cell: Cell) -> bytes | None:
    if not cell:
        return None
    value = ValueProto.FromString(cell)
    return value.SerializeToString() if value.WhichOneof("val") else None


def _packed(cells: Sequence[Cell], name: str, kind: pa.DataType) -> pa.Array | None:
    """A list column read straight from packed numbers (floats, doubles or varints); None when
    any value is not in that shape (or a fixed-size list has the wrong length): then it is
    parsed value by value."""
    tag, dtype = _PACKED[name]
    parts: list[bytes] = []
    sizes = np.zeros(len(cells), dtype=np.int64)
    valid = np.zeros(len(cells), dtype=np.bool_)
    for i, cell in enumerate(cells):
        if not cell:
            continue
        try:
            data = _packed_bytes(cell, tag)
        except IndexError:
            return None
        if data is None:
            return None
        parts.append(data)
        sizes[i] = len(data)
        valid[i] = True
    buffer = b"".join(parts)
    if dtype.kind == "i":
        decoded = _varints(buffer, np.cumsum(sizes))
        if decoded is None:
            return None
        values, lengths = decoded
    else:
        if np.any(sizes % dtype.itemsize):
            return None
        values, lengths = np.frombuffer(buffer, dtype=dtype), sizes // dtype.itemsize
    mask = pa.array(~valid)
    if pa.types.is_fixed_size_list(kind):
        size = kind.list_size
        if np.any(lengths[valid] != size):
            return None
        filled = np.zeros((len(cells), size), dtype=values.dtype)
        filled[valid] = values.reshape(-1, size)
        flat = pa.array(filled.reshape(-1), type=kind.value_type)
        return pa.FixedSizeListArray.from_arrays(flat, type=kind, mask=mask)
    offsets = np.zeros(len(cells) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    try:
        flat = pa.array(values, type=kind.value_type)
    except (pa.ArrowInvalid, OverflowError):  # an integer out of the type's range
        return None
    return pa.ListArray.from_arrays(pa.array(offsets), flat, type=kind, mask=mask)


def _varints(buffer: bytes, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Packed varints (64-bit two's complement) of cells laid end to end, and how many each
    cell holds (``ends``: each cell's end offset in ``buffer``); None for a malformed run."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    if not len(data):
        return np.zeros(0, dtype=np.int64), np.zeros(len(ends), dtype=np.int64)
    last = (data & 0x80) == 0  # the final byte of each number
    if not last[ends[ends > 0] - 1].all():
        return None  # a number runs over into the next cell
    closed = np.cumsum(last)  # numbers finished up to and including each byte
    counts = np.diff(np.concatenate(([0], np.where(ends > 0, closed[np.maximum(ends, 1) - 1], 0))))
    firsts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    place = np.arange(len(data)) - firsts[np.concatenate(([0], closed[:-1]))]
    if place.max() > 9 or np.any(data[place == 9] > 1):
        return None  # longer than 64 bits
    shifted = (data & 0x7F).astype(np.uint64) << (7 * place).astype(np.uint64)
    return np.bitwise_or.reduceat(shifted, firsts).view(np.int64), counts


def _packed_bytes(cell: bytes, tag: bytes) -> bytes | None:
    """The packed numbers of a FloatList, DoubleList, Int64List or Int32List value; None when
    it is not that shape."""
    if not cell.startswith(tag):
        return None
    size, start = _varint(cell, len(tag))
    if start + size != len(cell):
        return None
    if size == 0:
        return b""
    if cell[start : start + 1] != _INNER:
        return None
    inner, begin = _varint(cell, start + 1)
    if begin + inner != len(cell):
        return None
    return cell[begin:]
