"""The GX pass worker's process: ``python -m validation.pass_server FD`` (see :mod:`pass_worker`).

It builds its own GX engine, says :data:`validation.pass_worker.READY`, then answers each request
``(table, parents, share, shares, frame, parameters)`` with the share's verdict (or the exception
that prevented it) until the socket closes or a None arrives.
"""

from __future__ import annotations

import gc
import sys
from multiprocessing.connection import Connection

from validation.engine import GxEngine
from validation.pass_worker import READY


def _serve(conn: Connection) -> None:
    engine = GxEngine()
    gc.collect()
    gc.freeze()  # GX's modules and context live as long as the worker
    conn.send(READY)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        table, parents, share, shares, frame, parameters = request
        try:
            conn.send(engine.passes(table, parents, frame, parameters, (share, shares)))
        except Exception as exc:  # the replica validates the share itself
            conn.send(exc)


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
