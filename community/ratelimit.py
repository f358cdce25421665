"""A small fixed-window rate limiter in the shared store (Redis in production).

Per-process limits would let a person multiply their allowance by reconnecting to
another web process, so the count lives where every process sees it. It sits on the
chat send path, so with Redis it costs one pipelined round trip (INCR + EXPIRE).
"""

from __future__ import annotations

import time
from functools import cache as once

import redis
from django.conf import settings
from django.core.cache import cache


@once
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def allow(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; False once more than `limit` happened in this window."""
    bucket = int(time.time() // window)
    name = f"rl:{scope}:{key}:{bucket}"
    if settings.REDIS_URL:
        pipe = _redis(settings.REDIS_URL).pipeline()
        name = cache.make_key(name)  # the cache's prefix keeps sites (and test runs) apart
        pipe.incr(name)
        pipe.expire(name, window * 2)
        count, _ = pipe.execute()
        return count <= limit
    if cache.add(name, 1, timeout=window * 2):
        return True
    try:
        return cache.incr(name) <= limit
    except ValueError:  # the window expired between the two calls: this is its first hit
        cache.add(name, 1, timeout=window * 2)
        return True
