"""Who is in a group's chat right now, across every web process.

Each open chat socket is one entry (any device counts); entries carry a heartbeat time so
a process that dies without saying goodbye stops showing its people within a minute.
People who chose to appear offline are never added.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict

from django.conf import settings

STALE_AFTER = 75  # seconds without a heartbeat before an entry is ignored
HEARTBEAT = 25


class LocalPresence:
    """One process (the embedded in-memory shape): a dict is the whole truth."""

    def __init__(self) -> None:
        self._entries: dict[int, dict[str, tuple[int, str, float]]] = defaultdict(dict)

    async def add(self, group_id: int, user_id: int, name: str, channel: str) -> None:
        self._entries[group_id][channel] = (user_id, name, time.monotonic())

    async def touch(self, group_id: int, user_id: int, name: str, channel: str) -> None:
        await self.add(group_id, user_id, name, channel)

    async def touch_many(self, entries: list[tuple[int, int, str, str]]) -> None:
        for group_id, user_id, name, channel in entries:
            await self.add(group_id, user_id, name, channel)

    async def remove(self, group_id: int, channel: str) -> None:
        self._entries[group_id].pop(channel, None)

    async def online(self, group_id: int) -> list[dict]:
        cutoff = time.monotonic() - STALE_AFTER
        seen: dict[int, str] = {}
        for user_id, name, at in list(self._entries[group_id].values()):
            if at >= cutoff:
                seen[user_id] = name
        return [{"id": uid, "name": name} for uid, name in sorted(seen.items())]


class RedisPresence:
    """Many processes: a sorted set per group, scored by heartbeat time."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._clients: dict[asyncio.AbstractEventLoop, object] = {}

    def _client(self):
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # redis-py caps a pool at 100 connections; a process with thousands of sockets
            # heart-beating needs far more headroom than that (PERFORMANCE_NOTES.md).
            client = redis.from_url(self._url, socket_timeout=2, socket_connect_timeout=2,
                                    max_connections=1000)
            self._clients[loop] = client
        return client

    def _key(self, group_id: int) -> str:
        return f"{self._prefix}:presence:{group_id}"

    @staticmethod
    def _member(user_id: int, name: str, channel: str) -> str:
        return json.dumps([user_id, name, channel])

    async def add(self, group_id: int, user_id: int, name: str, channel: str) -> None:
        key = self._key(group_id)
        pipe = self._client().pipeline()
        pipe.zadd(key, {self._member(user_id, name, channel): time.time()})
        pipe.expire(key, 3600)
        await pipe.execute()

    async def touch(self, group_id: int, user_id: int, name: str, channel: str) -> None:
        await self.add(group_id, user_id, name, channel)

    async def touch_many(self, entries: list[tuple[int, int, str, str]]) -> None:
        """A whole process's heartbeat in one round trip."""
        now = time.time()
        by_group: dict[int, dict[str, float]] = defaultdict(dict)
        for group_id, user_id, name, channel in entries:
            by_group[group_id][self._member(user_id, name, channel)] = now
        pipe = self._client().pipeline(transaction=False)
        for group_id, members in by_group.items():
            pipe.zadd(self._key(group_id), members)
            pipe.expire(self._key(group_id), 3600)
        await pipe.execute()

    async def remove(self, group_id: int, channel: str) -> None:
        key = self._key(group_id)
        client = self._client()
        for raw in await client.zrange(key, 0, -1):
            if json.loads(raw)[2] == channel:
                await client.zrem(key, raw)

    async def online(self, group_id: int) -> list[dict]:
        key = self._key(group_id)
        client = self._client()
        await client.zremrangebyscore(key, "-inf", time.time() - STALE_AFTER)
        seen: dict[int, str] = {}
        for raw in await client.zrange(key, 0, -1):
            user_id, name, _channel = json.loads(raw)
            seen[user_id] = name
        return [{"id": uid, "name": name} for uid, name in sorted(seen.items())]


_presence: LocalPresence | RedisPresence | None = None


def get_presence() -> LocalPresence | RedisPresence:
    global _presence
    if _presence is None:
        if settings.REDIS_URL:
            _presence = RedisPresence(settings.REDIS_URL, settings.CACHE_PREFIX)
        else:
            _presence = LocalPresence()
    return _presence
