"""Deployment checks of our own (`manage.py check --deploy`).

Rate limits (ours and allauth's log-in and sign-up limits) are counted in the cache. A
cache that lives inside one process gives every web process its own count, and the dummy
cache counts nothing, so in production the cache must be shared: Redis (REDIS_URL).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.security, deploy=True)
def check_rate_limits_are_shared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        found.append(checks.Warning(
            "Rate limits are counted in a cache that is not shared between processes, so "
            "each web process counts on its own (or, with the dummy cache, not at all).",
            hint="Set REDIS_URL so the cache (and the rate limits in it) live in Redis.",
            id="kindred.W001",
        ))
    if getattr(settings, "ACCOUNT_RATE_LIMITS", None) is False:
        found.append(checks.Warning(
            "allauth's rate limits are switched off (ACCOUNT_RATE_LIMITS = False).",
            hint="Keep the limits on log-in, sign-up and password resets.",
            id="kindred.W002",
        ))
    return found
