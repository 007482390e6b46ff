"""Redis cells decoded a column at a time equal protobuf's own parse, value for value.

:func:`livecart.features.redis_cells.column_of` reads the wire format of the values Feast writes
for typed features and leaves every other value to protobuf's parser; both ways must give the
same Arrow column (type, nulls, values, NaN included) as parsing each cell into a ValueProto and
taking :func:`livecart.online.codec.scalar_of`, which is what serving did before.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pyarrow as pa
import pytest
from feast import Field
from feast.protos.feast.types.Value_pb2 import Null
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    Map,
    String,
    UnixTimestamp,
)
from google.protobuf.message import DecodeError

from livecart.features.redis_cells import column_of
from livecart.online.codec import arrow_type, is_opaque, scalar_of

F32_EDGES = [0.0, -0.0, 1.5, -2.25, 3.4e38, 1e-45, math.inf, -math.inf, math.nan]
F64_EDGES = [0.0, -0.0, 1.5, -1e308, 5e-324, math.inf, -math.inf, math.nan, 0.1]
INT_EDGES = [0, 1, 127, 128, 300, 2**31 - 1, -1, -128, -(2**31)]
LONG_EDGES = [*INT_EDGES, 2**63 - 1, -(2**63), 2**40]
STRINGS = ["", "a", "好看！", "😍 want", "x" * 200, "ship to Lyon?"]


def _cell(**value: Any) -> bytes:
    return ValueProto(**value).SerializeToString()


def _unset_and_null() -> list[bytes | None]:
    return [None, b"", _cell(null_val=Null.NULL)]


def _expected(cells: list[bytes | None], field: Field) -> pa.Array:
    """What serving computed before: each cell parsed, then its Python value."""
    if is_opaque(field):
        parsed = [ValueProto.FromString(c) if c else ValueProto() for c in cells]
        return pa.array(
            [p.SerializeToString() if p.WhichOneof("val") else None for p in parsed],
            type=arrow_type(field),
        )
    return pa.array(
        [scalar_of(ValueProto.FromString(c)) if c else None for c in cells],
        type=arrow_type(field),
    )


def _same(got: pa.Array, want: pa.Array) -> None:
    assert got.type == want.type
    assert len(got) == len(want)

    def plain(values: list[Any]) -> list[Any]:
        if values and isinstance(values[0], list):
            return [None if v is None else plain(v) for v in values]
        return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]

    assert plain(got.to_pylist()) == plain(want.to_pylist())
    assert got.null_count == want.null_count


def _column(field: Field, cells: list[bytes | None]) -> None:
    rng = random.Random(len(cells))
    for shuffled in (cells, rng.sample(cells, len(cells))):
        _same(column_of(shuffled, field), _expected(shuffled, field))
    for cell in cells:  # one-row columns (a viewer's own row) skip numpy: the same values
        _same(column_of([cell], field), _expected([cell], field))


SCALARS: list[tuple[Field, list[bytes | None]]] = [
    (Field(name="d", dtype=Float64), [_cell(double_val=v) for v in F64_EDGES]),
    (Field(name="f", dtype=Float32), [_cell(float_val=v) for v in F32_EDGES]),
    (Field(name="i", dtype=Int64), [_cell(int64_val=v) for v in LONG_EDGES]),
    (Field(name="n", dtype=Int32), [_cell(int32_val=v) for v in INT_EDGES]),
    (Field(name="s", dtype=String), [_cell(string_val=v) for v in STRINGS]),
    (Field(name="b", dtype=Bool), [_cell(bool_val=v) for v in (True, False)]),
    (Field(name="y", dtype=Bytes), [_cell(bytes_val=v) for v in (b"", b"\x00\xff", b"ab")]),
    (Field(name="t", dtype=UnixTimestamp), [_cell(unix_timestamp_val=v) for v in (0, 1, 2**31)]),
]


@pytest.mark.parametrize(("field", "values"), SCALARS, ids=[f.name for f, _ in SCALARS])
def test_column_of__every_scalar_type__equals_protobuf_parse(
    field: Field, values: list[bytes | None]
) -> None:
    _column(field, values)
    _column(field, values + _unset_and_null())
    _column(field, _unset_and_null())
    _column(field, [])


def test_column_of__one_width_columns__fast_path_and_mixed_widths_equal() -> None:
    small = [_cell(int64_val=v) for v in range(0, 128, 7)]
    _column(Field(name="i", dtype=Int64), [*small, None])  # every value one byte: numpy
    _column(Field(name="i", dtype=Int64), [*small, _cell(int64_val=128)])  # two bytes: per value
    _column(Field(name="i", dtype=Int64), [*small, _cell(int64_val=-1)])
    doubles = [_cell(double_val=v / 3) for v in range(50)]
    _column(Field(name="d", dtype=Float64), [*doubles, None, b""])
    # A value stored under another type than the feature's: parsed, as before.
    _column(Field(name="d", dtype=Float64), [*doubles, _cell(int64_val=3)])
    _column(Field(name="d", dtype=Float64), [*doubles, _cell(float_val=0.5)])
    _column(Field(name="i", dtype=Int64), [*small, _cell(int32_val=5)])
    # An int32 field holding a 64-bit number: protobuf keeps its low 32 bits.
    wide = bytes([0x18]) + bytes([0xFF] * 9 + [0x01])  # int32_val = 2**64 - 1 as a varint
    wide_too = bytes([0x18, 0x80, 0x80, 0x80, 0x80, 0x10])  # int32_val = 2**32
    _column(Field(name="n", dtype=Int32), [_cell(int32_val=3), wide_too, wide])
    # A value written twice in one cell: protobuf keeps the last one.
    twice = _cell(int64_val=5) + _cell(int64_val=7)
    _column(Field(name="i", dtype=Int64), [*small, twice])
    _column(Field(name="i", dtype=Int64), [twice, twice])


def test_column_of__long_and_broken_strings__as_protobuf_reads_them() -> None:
    field = Field(name="s", dtype=String)
    lengths = [0, 1, 127, 128, 5000, 16383, 16384, 40000]  # 1-, 2- and 3-byte length varints
    _column(field, [_cell(string_val="é" * (n // 2) + "x" * (n % 2)) for n in lengths])
    _column(field, [_cell(string_val="a" * n) for n in lengths[:6]])
    broken = bytes([0x12, 2, 0xFF, 0xFE])  # a string_val that is not UTF-8
    for cells in ([broken], [_cell(string_val="ok"), broken]):
        with pytest.raises(DecodeError):
            column_of(cells, field)
        with pytest.raises(DecodeError):
            _expected(cells, field)


def _floats(n: int, rng: random.Random) -> list[float]:
    return [
        rng.choice(F32_EDGES[:-1]) if rng.random() < 0.2 else rng.uniform(-9, 9) for _ in range(n)
    ]


def test_column_of__float_lists__fixed_and_variable_length_equal_protobuf_parse() -> None:
    rng = random.Random(3)
    for base, field_name in ((Float32, "float_list_val"), (Float64, "double_list_val")):

        def cell(values: list[float], name: str = field_name) -> bytes:
            value = ValueProto()
            getattr(value, name).val.extend(values)
            return value.SerializeToString()

        vectors = [cell(_floats(8, rng)) for _ in range(20)]
        fixed = Field(name="v", dtype=Array(base), vector_length=8)
        _column(fixed, vectors)
        _column(fixed, vectors + _unset_and_null())
        _column(fixed, [None, None])
        ragged = [cell(_floats(rng.randint(0, 40), rng)) for _ in range(30)] + [cell([])]
        variable = Field(name="v", dtype=Array(base))
        _column(variable, ragged + _unset_and_null())
        _column(variable, [*ragged, cell([1.0, math.nan])])
        # Another list type in a float-list feature: parsed, as before.
        other = "double_list_val" if field_name == "float_list_val" else "float_list_val"
        _column(variable, [*ragged, cell([0.5, 2.0], other)])
    with pytest.raises(pa.ArrowInvalid):  # a wrong-length vector fails as it did before
        column_of([cell(_floats(7, rng))], fixed)
    with pytest.raises(pa.ArrowInvalid):
        _expected([cell(_floats(7, rng))], fixed)


def test_column_of__integer_lists__packed_varints_equal_protobuf_parse() -> None:
    rng = random.Random(5)
    for base, name, edges in (
        (Int64, "int64_list_val", LONG_EDGES),
        (Int32, "int32_list_val", INT_EDGES),
    ):

        def cell(values: list[int], name: str = name) -> bytes:
            value = ValueProto()
            getattr(value, name).val.extend(values)
            return value.SerializeToString()

        def some(n: int, edges: list[int] = edges) -> list[int]:
            return [
                rng.choice(edges) if rng.random() < 0.3 else rng.randint(0, 300) for _ in range(n)
            ]

        field = Field(name="l", dtype=Array(base))
        lists = [cell(some(rng.randint(0, 60))) for _ in range(40)]
        _column(field, lists)  # packed: straight into numpy
        _column(field, [*lists, None, b""])
        _column(field, lists + _unset_and_null())  # a null value: parsed one by one
        _column(field, [cell([]), cell([]), None])
        _column(field, [cell(edges)])
        _column(field, [cell(some(1)) for _ in range(5)])


def test_column_of__other_lists_and_opaque_values__parsed_as_before() -> None:
    strings = ValueProto()
    strings.string_list_val.val.extend(["r1", "好看", ""])
    longs = ValueProto()
    longs.int64_list_val.val.extend([1, -5, 2**40])
    _column(Field(name="s", dtype=Array(String)), [strings.SerializeToString(), None])
    _column(Field(name="l", dtype=Array(Int64)), [longs.SerializeToString(), b""])
    mapped = ValueProto()
    mapped.map_val.val["k"].CopyFrom(ValueProto(int64_val=1))
    field = Field(name="m", dtype=Map)
    assert is_opaque(field)
    _column(field, [mapped.SerializeToString(), *_unset_and_null()])
