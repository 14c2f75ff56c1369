"""A TCP port on 127.0.0.1 where nothing listens, guaranteed for the rest of the test run.

Binding port 0 and closing the socket again ("find a free port") leaves a window in which another
process can take the port. Here the socket stays bound, without listen(), until the process ends:
the kernel refuses every connection to it (ECONNREFUSED) and no one else can bind it.
"""

from __future__ import annotations

import socket

_HELD: list[socket.socket] = []


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    return sock.getsockname()[1]
