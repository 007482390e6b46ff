"""The store's async API (``get_online_features_async``, ``push_async``, the feature server):
reads stay on the event loop while the views are in this process's memory, and go to a worker
thread only to load files; a commit (file writes and fsyncs under an fcntl lock) always does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from feast import FeatureView, RepoConfig
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.online.access import read_cache, table_name

ReadRow = tuple[datetime | None, dict[str, ValueProto] | None]


class AsyncMethods(OnlineStore):
    """Feast's async online-store methods over the store's synchronous ones."""

    @property
    def async_supported(self) -> SupportedAsyncMethods:
        return SupportedAsyncMethods(read=True, write=True)

    async def online_write_batch_async(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """A commit writes and fsyncs files under an fcntl lock: blocking I/O with no async
        form, so it runs in a worker thread while the event loop goes on."""
        await asyncio.to_thread(self.online_write_batch, config, table, data, progress)

    async def online_read_async(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[ReadRow]:
        """On the event loop when the view is in this process's read cache (no I/O: a thread
        hop would only add latency); in a worker thread when it must be loaded from files."""
        if read_cache(config).in_memory(table_name(config, table)):
            return self.online_read(config, table, entity_keys, requested_features)
        return await asyncio.to_thread(
            self.online_read, config, table, entity_keys, requested_features
        )

    async def _read_features_per_fv_async(
        self,
        config: RepoConfig,
        grouped_refs: list[Any],
        join_key_values: dict[str, Any],
        entity_name_to_join_key_map: dict[str, str],
        online_features_response: Any,
        full_feature_names: bool,
        include_feature_view_version_metadata: bool,
    ) -> None:
        """``get_online_features_async``: the sync wire-encoding loop, on the event loop when
        every view is in memory, else in a worker thread (it loads files)."""
        cache = read_cache(config)
        args = (
            config,
            grouped_refs,
            join_key_values,
            entity_name_to_join_key_map,
            online_features_response,
            full_feature_names,
            include_feature_view_version_metadata,
        )
        if all(cache.in_memory(table_name(config, table)) for table, _ in grouped_refs):
            self._read_features_per_fv(*args)
        else:
            await asyncio.to_thread(self._read_features_per_fv, *args)
