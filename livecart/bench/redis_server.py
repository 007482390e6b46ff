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
from typing import Any

from livecart.core.errors import LivecartError


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
