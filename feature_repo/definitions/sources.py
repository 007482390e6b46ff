"""Offline sources: the Parquet feature tables written by `livecart features`.

Feast binds file paths when a definition is created, so this module reads the livecart settings
when Feast imports the repo. ``LIVECART_HOME`` must be set then (livecart commands set it): Feast
changes directory into the repo first, so a relative default would point at the wrong place.
"""

import os

from feast import FileSource, PushSource
from feast.data_format import ParquetFormat

from livecart.core import contract as c
from livecart.core.feature_names import FeatureTable
from livecart.core.settings import LivecartSettings

if "LIVECART_HOME" not in os.environ:
    raise RuntimeError(
        "LIVECART_HOME is not set: run `export LIVECART_HOME=$PWD/.livecart` (the livecart data "
        "directory) before the Feast CLI; `livecart apply` sets it for you."
    )
_SETTINGS = LivecartSettings()
EMBEDDING_DIM = _SETTINGS.embedding_dim


def file_source(table: FeatureTable) -> FileSource:
    """The Parquet file of ``table`` as a Feast FileSource."""
    return FileSource(
        name=f"{table.value}_source",
        path=str(_SETTINGS.feature_table_path(table)),
        file_format=ParquetFormat(),
        timestamp_field=c.EVENT_TIMESTAMP,
        created_timestamp_column=c.CREATED_TIMESTAMP,
    )


def push_source(table: FeatureTable, batch: FileSource) -> PushSource:
    """A push source over ``batch``, for events that serving pushes in real time."""
    return PushSource(name=f"{table.value}_push", batch_source=batch)
