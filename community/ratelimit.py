"""A small fixed-window rate limiter in the shared cache (Redis in production).

Per-process limits would let a person multiply their allowance by reconnecting to
another web process, so the count lives in the cache every process shares.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; False once more than `limit` happened in this window."""
    bucket = int(time.time() // window)
    name = f"rl:{scope}:{key}:{bucket}"
    if cache.add(name, 1, timeout=window * 2):
        return True
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this is the first hit again
        cache.add(name, 1, timeout=window * 2)
        return True
    return count <= limit
