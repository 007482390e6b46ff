"""Conversions between Feast's types and values and the store's typed Arrow columns.

The store keeps one typed column per feature (floats, ints, strings, lists, fixed-size float
arrays for embeddings). Feast speaks ValueProto at its edges; these helpers convert whole columns
at a time and never round-trip through serialized protos.

Every other Feast type (Map, Json, Struct, sets, UUIDs, decimals, nested lists, ...) is *opaque*:
its column holds each value's serialized ValueProto (binary, null where unset), exactly what
Feast's SQLite store keeps for every feature, so a value reads back as it was written (an empty
map stays an empty map, a null stays a null). Join keys must be typed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from feast import FeatureView, Field
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.types import Array, FeastType, PrimitiveFeastType

from livecart.online.bookkeeping import CREATED_TS, EVENT_TS

TS_TYPE = pa.timestamp("us", tz="UTC")

_PRIMITIVE_ARROW: dict[PrimitiveFeastType, pa.DataType] = {
    PrimitiveFeastType.INT32: pa.int32(),
    PrimitiveFeastType.INT64: pa.int64(),
    PrimitiveFeastType.FLOAT32: pa.float32(),
    PrimitiveFeastType.FLOAT64: pa.float64(),
    PrimitiveFeastType.STRING: pa.string(),
    PrimitiveFeastType.BYTES: pa.binary(),
    PrimitiveFeastType.BOOL: pa.bool_(),
    PrimitiveFeastType.UNIX_TIMESTAMP: TS_TYPE,
}
# ValueProto field names of scalars and lists, per primitive type.
_SCALAR_FIELD: dict[PrimitiveFeastType, str] = {
    PrimitiveFeastType.INT32: "int32_val",
    PrimitiveFeastType.INT64: "int64_val",
    PrimitiveFeastType.FLOAT32: "float_val",
    PrimitiveFeastType.FLOAT64: "double_val",
    PrimitiveFeastType.STRING: "string_val",
    PrimitiveFeastType.BYTES: "bytes_val",
    PrimitiveFeastType.BOOL: "bool_val",
    PrimitiveFeastType.UNIX_TIMESTAMP: "unix_timestamp_val",
}
_LIST_FIELD: dict[PrimitiveFeastType, str] = {
    PrimitiveFeastType.INT32: "int32_list_val",
    PrimitiveFeastType.INT64: "int64_list_val",
    PrimitiveFeastType.FLOAT32: "float_list_val",
    PrimitiveFeastType.FLOAT64: "double_list_val",
    PrimitiveFeastType.STRING: "string_list_val",
    PrimitiveFeastType.BYTES: "bytes_list_val",
    PrimitiveFeastType.BOOL: "bool_list_val",
    PrimitiveFeastType.UNIX_TIMESTAMP: "unix_timestamp_list_val",
}


OPAQUE_TYPE = pa.binary()


class UnsupportedFeatureType(TypeError):
    """A type this store cannot use where it is used (an opaque type as a join key)."""


def _typed(dtype: FeastType) -> tuple[PrimitiveFeastType, bool] | None:
    """(primitive, is a list) of a type kept as a typed column; None for an opaque type."""
    if isinstance(dtype, Array):
        base = dtype.base_type
        if isinstance(base, PrimitiveFeastType) and base in _PRIMITIVE_ARROW:
            return base, True
    elif isinstance(dtype, PrimitiveFeastType) and dtype in _PRIMITIVE_ARROW:
        return dtype, False
    return None


def is_opaque(field: Field) -> bool:
    """Whether ``field``'s values are kept as serialized ValueProtos (see the module doc)."""
    return _typed(field.dtype) is None


def _base(field: Field) -> tuple[PrimitiveFeastType, bool]:
    typed = _typed(field.dtype)
    if typed is None:
        raise UnsupportedFeatureType(
            f"join key {field.name!r} has type {field.dtype}; the DuckDB online store keys "
            "rows by scalars or lists of Int32, Int64, Float32, Float64, String, Bytes, Bool "
            "or UnixTimestamp"
        )
    return typed


def value_field(field: Field) -> tuple[str, bool] | None:
    """(the ValueProto field a typed feature's values are held in, whether it is a list); None
    for an opaque feature."""
    typed = _typed(field.dtype)
    if typed is None:
        return None
    base, is_list = typed
    return (_LIST_FIELD if is_list else _SCALAR_FIELD)[base], is_list


def arrow_type(field: Field) -> pa.DataType:
    """Arrow type of a feature; embeddings with a vector_length become fixed-size float lists;
    opaque types are binary (serialized ValueProtos)."""
    if is_opaque(field):
        return OPAQUE_TYPE
    base, is_list = _base(field)
    if not is_list:
        return _PRIMITIVE_ARROW[base]
    if field.vector_length and base in (PrimitiveFeastType.FLOAT32, PrimitiveFeastType.FLOAT64):
        return pa.list_(_PRIMITIVE_ARROW[base], field.vector_length)
    return pa.list_(_PRIMITIVE_ARROW[base])


def key_columns(view: FeatureView) -> list[str]:
    """The view's join keys, in a stable order (the store's primary key)."""
    return sorted(col.name for col in view.entity_columns)


def view_schema(view: FeatureView) -> pa.Schema:
    """The stored table's schema: join keys, features, event and created timestamps."""
    for col in view.entity_columns:
        _base(col)  # join keys are typed: refuse an opaque one by name
    key_types = {col.name: arrow_type(col) for col in view.entity_columns}
    fields = [pa.field(name, key_types[name]) for name in key_columns(view)]
    fields += [pa.field(f.name, arrow_type(f)) for f in view.features]
    fields += [pa.field(EVENT_TS, TS_TYPE), pa.field(CREATED_TS, TS_TYPE)]
    return pa.schema(fields)


def cast_stored(table: pa.Table, schema: pa.Schema, raw: Sequence[str] = ()) -> pa.Table:
    """``table``'s columns of ``schema``, in its order, each cast to its stored type, except the
    ``raw`` ones (opaque features: :func:`encode_opaque` turns their values into ValueProtos)."""
    return pa.table(
        {
            name: table.column(name) if name in raw else table.column(name).cast(field.type)
            for name, field in zip(schema.names, schema, strict=True)
        }
    )


def schema_signature(view: FeatureView) -> str:
    """A string that changes whenever the stored layout of ``view`` would change (an opaque
    feature's Feast type is part of it: Map and Bytes are both binary columns)."""
    layout = str(view_schema(view).to_string(show_schema_metadata=False))
    opaque = [f"{f.name}: {f.dtype}" for f in view.features if is_opaque(f)]
    return layout + ("\nopaque " + ", ".join(opaque) if opaque else "")


def scalar_of(value: ValueProto) -> Any:
    """The Python value held by one ValueProto (None when unset)."""
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    held = getattr(value, kind)
    if kind.endswith("_list_val"):
        return list(held.val)
    if kind == "unix_timestamp_val":
        return datetime.fromtimestamp(held, tz=UTC)
    return held


def entity_key_tuple(key: EntityKeyProto, order: Sequence[str]) -> tuple[Any, ...]:
    """The join-key values of ``key`` in ``order`` (a dictionary key of the reader cache)."""
    values = dict(zip(key.join_keys, key.entity_values, strict=True))
    return tuple(scalar_of(values[name]) for name in order)


def utc(moment: datetime | None) -> datetime | None:
    """Naive timestamps are UTC, consistently."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rows_to_arrow(
    view: FeatureView,
    data: Sequence[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
) -> pa.Table:
    """Feast's write batch (protos) as a typed Arrow table of the view's schema."""
    schema = view_schema(view)
    keys = key_columns(view)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    readers = [
        (f.name, _serialized if is_opaque(f) else scalar_of, columns[f.name]) for f in view.features
    ]
    for entity_key, values, event_ts, created_ts in data:
        for name, value in zip(keys, entity_key_tuple(entity_key, keys), strict=True):
            columns[name].append(value)
        for name, read, column in readers:
            proto = values.get(name)
            column.append(read(proto) if proto is not None else None)
        columns[EVENT_TS].append(utc(event_ts))
        columns[CREATED_TS].append(utc(created_ts) or utc(event_ts))
    return pa.table(
        {name: pa.array(columns[name], type=schema.field(name).type) for name in schema.names}
    )


def _serialized(value: ValueProto) -> bytes | None:
    """An opaque feature's stored cell: the serialized ValueProto, None when unset."""
    kind = value.WhichOneof("val")
    return None if kind is None or kind == "null_val" else value.SerializeToString()


def _parsed(cell: bytes | None) -> ValueProto:
    return ValueProto() if cell is None else ValueProto.FromString(cell)


def encode_opaque(view: FeatureView, rows: pa.Table) -> pa.Table:
    """``rows`` with each opaque feature's Python values (as an offline store reads them: dicts,
    JSON text, ...) turned into serialized ValueProtos, the way Feast's own materialization
    converts them (``python_values_to_proto_values`` over the column's values)."""
    for field in view.features:
        if not is_opaque(field) or field.name not in rows.column_names:
            continue
        column = rows.column(field.name)
        values = column.to_numpy(zero_copy_only=False)
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        protos = python_values_to_proto_values(list(values), field.dtype.to_value_type())
        cells = [_serialized(p) if ok else None for p, ok in zip(protos, valid, strict=True)]
        index = rows.column_names.index(field.name)
        rows = rows.set_column(index, field.name, pa.array(cells, type=OPAQUE_TYPE))
    return rows


def opaque_values(field: Field, cells: pa.Array) -> pa.Array:
    """An opaque column's cells as the Python values Feast's ``to_dict`` gives (Arrow infers
    the type: a map becomes a struct, JSON its parsed value's type)."""
    values = [
        None if cell is None else feast_value_type_to_python_type(ValueProto.FromString(cell))
        for cell in cells.to_pylist()
    ]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed shapes (JSON): one text per value
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values])


def proto_builder(field: Field) -> Callable[[Any], ValueProto]:
    """A fast Python value -> ValueProto function for one feature (an opaque feature's value is
    its serialized ValueProto)."""
    if is_opaque(field):
        return _parsed
    base, is_list = _base(field)
    if is_list:
        list_name = _LIST_FIELD[base]
        if base is PrimitiveFeastType.UNIX_TIMESTAMP:

            def build_ts_list(v: Any) -> ValueProto:
                out = ValueProto()
                if v is not None:
                    getattr(out, list_name).val.extend(int(x.timestamp()) for x in v)
                return out

            return build_ts_list

        def build_list(v: Any) -> ValueProto:
            out = ValueProto()
            if v is not None:
                getattr(out, list_name).val.extend(v)
            return out

        return build_list
    name = _SCALAR_FIELD[base]
    if base is PrimitiveFeastType.UNIX_TIMESTAMP:
        return lambda v: (
            ValueProto() if v is None else ValueProto(unix_timestamp_val=int(v.timestamp()))
        )
    return lambda v: ValueProto() if v is None else ValueProto(**{name: v})
