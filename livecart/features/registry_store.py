"""A Feast file registry whose writes are atomic.

Feast 0.67's ``FileRegistryStore`` rewrites ``registry.db`` in place (open "wb", write, fsync),
so a process refreshing its registry cache at that moment reads a truncated proto and fails
(seen: 13 failed reads among ~60,000 during a materialize in the concurrency soak). This store
writes a temporary file beside it and renames it over the old one, so readers see the old or the
new registry, never half of one. Selected in ``feature_store.yaml`` (``registry_store_type``).
"""

from __future__ import annotations

import os
import uuid

from feast.infra.registry.file import FileRegistryStore
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from google.protobuf.timestamp_pb2 import Timestamp


class AtomicFileRegistryStore(FileRegistryStore):
    def _write_registry(self, registry_proto: RegistryProto) -> None:
        registry_proto.version_id = str(uuid.uuid4())
        stamp = Timestamp()
        stamp.GetCurrentTime()
        registry_proto.last_updated.CopyFrom(stamp)
        directory = self._filepath.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{self._filepath.name}.{uuid.uuid4().hex}"
        with open(tmp, mode="wb", buffering=0) as f:
            f.write(registry_proto.SerializeToString())
            os.fsync(f.fileno())
        os.replace(tmp, self._filepath)
