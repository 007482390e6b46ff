"""A throwaway ``redis-server`` on a free localhost port (benchmarks and tests; no persistence).

Debian's ``redis-server`` package (`.ci/run` installs it) and Feast's Redis client
(``pip install -e ".[redis]"``) are all it needs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from livecart.core.errors import LivecartError
from livecart.core.settings import FEATURE_REPO_DIR


def redis_server_path() -> str | None:
    """Where ``redis-server`` is, or None."""
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_redis(startup_s: float = 20.0) -> Iterator[str]:
    """Start ``redis-server`` on 127.0.0.1 and a free port; yield ``host:port``; stop it."""
    binary = redis_server_path()
    if binary is None:
        raise LivecartError("redis-server is not installed (Debian: apt-get install redis-server)")
    import redis  # Feast's Redis client: the `redis` extra

    port = _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + startup_s
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise LivecartError(
                        f"redis-server on port {port} did not answer within {startup_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        client.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def used_memory(address: str) -> int:
    """Bytes Redis holds for its data (``INFO memory``'s ``used_memory``)."""
    import redis

    host, port = address.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port))
    try:
        info: dict[str, Any] = client.info("memory")  # type: ignore[assignment]  # sync client
        return int(info["used_memory"])
    finally:
        client.close()


def redis_feature_repo(target: Path, address: str) -> Path:
    """A copy of the project's Feast repo at ``target`` with its online store swapped for Redis
    at ``address`` (``host:port``), as README's "Swapping the online store" shows."""
    shutil.copytree(FEATURE_REPO_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    yaml = target / "feature_store.yaml"
    text = yaml.read_text(encoding="utf-8")
    start = text.index("online_store:")
    end = text.index("entity_key_serialization_version")
    online = f'online_store:\n  type: redis\n  connection_string: "{address}"\n'
    yaml.write_text(text[:start] + online + text[end:], encoding="utf-8")
    return target
