"""Liveness and readiness, for the proxy and the orchestrator (never redirected to HTTPS)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
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
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    await layer.receive(channel)


def _channel_layer_ok() -> bool:
    try:
        async_to_sync(_with_timeout)()
        return True
    except Exception:
        log.warning("readyz: channel layer did not answer", exc_info=True)
        return False


async def _with_timeout() -> None:
    import asyncio

    await asyncio.wait_for(_layer_round_trip(), timeout=2)


@require_GET
@never_cache
def readyz(request):
    checks = {
        "database": "ok" if _database_ok() else "failed",
        "channel_layer": "ok" if _channel_layer_ok() else "failed",
    }
    ready = all(value == "ok" for value in checks.values())
    failed = [name for name, value in checks.items() if value != "ok"]
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=200 if ready else 503)
