"""Child processes that start in milliseconds: forked from a server that imported Feast once.

A fresh interpreter spends about 5 s importing Feast, Ray, pandas and livecart's online store.
Tests that need short-lived processes (concurrent readers, writers killed mid-commit, a second
reader, CLI commands) fork them from multiprocessing's fork server instead: it imports these
modules once per test run and forks a clean child (no store opened, nothing cached, no Ray
connection) for each process. A child imports the module of its target function: keep targets in
light modules (this one, or a test module that imports little beyond Feast and livecart's stores).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import time
import urllib.request
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

PRELOAD = ["pandas", "feast", "livecart.online.store", "ray_jobs.materialize"]


def forked_processes() -> ForkServerContext:
    """A multiprocessing context whose processes fork from the preloaded server."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # taken when the server starts (its first use)
    return ctx


def feast_cli(args: list[str], env: dict[str, str]) -> None:
    """`feast ARGS` with exactly ``env``, as a process target: the click group behind the `feast`
    command (the process exits with the command's status; errors go to stderr)."""
    os.environ.clear()
    os.environ.update(env)
    from feast.cli.cli import cli

    cli(args, prog_name="feast")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def feast_serve_answer(port: int, server: Any, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /get-online-features`` of a ``feast serve`` started as ``server`` on ``port``,
    retried while it starts (up to 90 s; an exited server fails at once)."""
    data = json.dumps(body).encode()
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/get-online-features",
                data=data,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                reply: dict[str, Any] = json.loads(response.read())
                return reply
        except OSError:
            assert server.exitcode is None, "feast serve exited (its error is in stderr)"
            time.sleep(0.5)
    raise AssertionError("feast serve did not answer")


def livecart_cli(args: list[str], env: dict[str, str], output: Path) -> None:
    """`livecart ARGS` with exactly ``env``, as a process target: in a session of its own (its
    process group can be killed as one), stdout and stderr written to ``output``; the process exits
    with the command's status."""
    os.setsid()
    with open(output, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    os.environ.clear()
    os.environ.update(env)
    from livecart.cli.main import app

    app(args, prog_name="livecart")
