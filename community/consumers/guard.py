"""What a WebSocket gets when the server cannot set it up because PostgreSQL or the
channel layer is unavailable: the handshake is accepted and then closed with 4503 ("try
again"), so a client can read the code and back off, instead of an HTTP 500 for the
handshake.

Sessions and users are looked up (in the database) by the auth middleware before any
consumer runs, so this sits around that stack. Once a socket is accepted its consumer
answers for itself (the chat consumer closes with 4503 too).
"""

from __future__ import annotations

import logging

import redis.exceptions
from django.db import InterfaceError, OperationalError

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 4503
UNAVAILABLE = (OperationalError, InterfaceError, ConnectionError, TimeoutError,
               redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# What the server raises when a frame is sent to a socket that has just closed (ASGI asks
# for an OSError; daphne's autobahn raises its own `Disconnected`).
try:
    from autobahn.exception import Disconnected
except ImportError:  # pragma: no cover - daphne (and so autobahn) is a dependency
    SOCKET_GONE: tuple[type[BaseException], ...] = (OSError,)
else:
    SOCKET_GONE = (OSError, Disconnected)


class TryAgainWhenUnavailable:
    def __init__(self, inner) -> None:
        self.inner = inner  # `inner`, as channels' own middleware names what it wraps

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        answered = False

        async def noting_send(message: dict) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            return await self.inner(scope, receive, noting_send)
        except UNAVAILABLE:
            if answered:  # the consumer had already accepted: not ours to handle
                raise
            log.warning("websocket: set-up failed, the database or channel layer is "
                        "unavailable; closing with %s", CLOSE_TRY_AGAIN, exc_info=True)
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
