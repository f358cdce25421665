"""A small fixed-window rate limiter in the shared store (Redis in production).

Per-process limits would let a person multiply their allowance by reconnecting to
another web process, so the count lives where every process sees it. It sits on the
chat send path, so with Redis it costs one pipelined round trip (INCR + EXPIRE).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from functools import cache as once

import redis
from django.conf import settings
from django.core.cache import cache


@once
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def hit(scope: str, key: str, rates: Sequence[tuple[int, int]]) -> tuple[int, int, int] | None:
    """Count one event for `key` against every (limit, window in seconds) at once.

    Returns None while every count is within its limit, else the first rate exceeded as
    (limit, window, seconds until its window ends). With Redis all windows cost one
    pipelined round trip, however many there are.
    """
    if not rates:
        return None
    now = time.time()
    names = [f"rl:{scope}:{key}:{window}s:{int(now // window)}" for _limit, window in rates]
    if settings.REDIS_URL:
        pipe = _redis(settings.REDIS_URL).pipeline()
        for name, (_limit, window) in zip(names, rates, strict=True):
            pipe.incr(cache.make_key(name))
            pipe.expire(cache.make_key(name), window * 2)
        counts = pipe.execute()[::2]
    else:
        counts = [_count_in_cache(name, window) for name, (_limit, window)
                  in zip(names, rates, strict=True)]
    for count, (limit, window) in zip(counts, rates, strict=True):
        if count > limit:
            return limit, window, max(1, math.ceil(window - now % window))
    return None


def _count_in_cache(name: str, window: int) -> int:
    if cache.add(name, 1, timeout=window * 2):
        return 1
    try:
        return cache.incr(name)
    except ValueError:  # the window expired between the two calls: this is its first hit
        cache.add(name, 1, timeout=window * 2)
        return 1


def allow(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; False once more than `limit` happened in this window."""
    return hit(scope, key, [(limit, window)]) is None
