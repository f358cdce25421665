"""Liveness and readiness, for the proxy and the orchestrator (never redirected to HTTPS)."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        log.warning("readyz: database did not answer", exc_info=True)
        return False


async def _layer_round_trip() -> None:
    layer = get_channel_layer()
    # The default prefix, as consumers' channels have: channels-redis reads a process's
    # channels through one blocking pop per prefix under one lock, so a channel of its
    # own prefix waited (up to 5 s) for the sockets' pop to time out.
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "readyz.ping"})
    await layer.receive(channel)


async def _channel_layer_ok() -> bool:
    """A message to ourselves and back, on the server's own event loop and through the
    same read as the chat sockets' events.

    Both matter with channels-redis when sockets are open: its receive lock and buffers
    belong to one event loop (a round trip from a loop of its own, `async_to_sync` in a
    sync view, could not share them), and a channel with another prefix waits for the
    sockets' blocking pop. Either way /readyz said 503 about healthy, busy processes."""
    try:
        await asyncio.wait_for(_layer_round_trip(), timeout=2)
        return True
    except Exception:
        log.warning("readyz: channel layer did not answer", exc_info=True)
        return False


@require_GET
@never_cache
async def readyz(request):
    checks = {
        "database": "ok" if await sync_to_async(_database_ok)() else "failed",
        "channel_layer": "ok" if await _channel_layer_ok() else "failed",
    }
    ready = all(value == "ok" for value in checks.values())
    failed = [name for name, value in checks.items() if value != "ok"]
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=200 if ready else 503)
