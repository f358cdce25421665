"""The embedded (one-process) channel layer.

Channels' in-memory layer sweeps every channel and group for expired entries on every
send and receive, so its cost grows with the number of open sockets times the message
rate; with a few hundred sockets the sweep alone took ~40% of the event loop. Expiry is
measured in seconds or days, so sweeping at most once a second keeps the same behaviour.
Production uses channels-redis instead.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_every = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_every:
            return
        self._last_sweep = now
        super()._clean_expired()
