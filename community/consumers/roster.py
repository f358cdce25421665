"""One heartbeat per process for all of its chat sockets.

Each socket used to beat on its own: a presence write and two membership queries per
socket every HEARTBEAT seconds, so a process holding 2,500 idle sockets spent half a core
on heartbeats (bench/results/2026-11-28-idle.md). Now the process keeps a roster of its
open chat sockets and beats once for all of them: one Redis pipeline refreshes every
presence entry and one batch of queries re-checks every (person, group) pair through
`policy.chat_close_code`, the same rule a connecting socket meets. The beat is the safety
net for a lost membership event; bans and removals still close sockets at once through
the `user.membership_changed` event. The beat also notices a socket that is behind its
group (its channel overflowed, or the last event of a conversation was lost) and has it
catch up from the database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from community import policy
from community.models import Group, Membership, User
from community.presence import HEARTBEAT, get_presence

log = logging.getLogger(__name__)

BATCH = 500  # sockets re-checked per set of queries (keeps IN lists well inside limits)


class RosterSocket(Protocol):
    """What the roster needs from a chat socket."""

    channel_name: str
    user: User
    group: Group
    name: str
    appear_offline: bool

    async def apply_standing(self, code: int | None, muted: bool) -> None: ...

    async def check_caught_up(self, group_seq: int) -> None: ...


def standings_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], tuple]:
    """(user id, group id) -> (close code or None, muted, the group's latest seq), from
    three queries in all.

    People and groups are read fresh, so a deactivated account or a suspended group is
    seen; memberships are primed into policy's cache so every check below is pure.
    """
    user_ids = {user_id for user_id, _ in pairs}
    group_ids = {group_id for _, group_id in pairs}
    users = User.objects.in_bulk(user_ids)
    groups = Group.objects.in_bulk(group_ids)
    rows: dict[tuple[int, int], Membership] = {
        (m.user_id, m.group_id): m
        for m in Membership.objects.filter(user_id__in=user_ids, group_id__in=group_ids)
    }
    result = {}
    for user_id, group_id in pairs:
        user, group = users.get(user_id), groups.get(group_id)
        if user is None:
            result[(user_id, group_id)] = (4401, False, 0)
            continue
        membership = rows.get((user_id, group_id))
        policy.remember_memberships(user, {group_id: membership})
        code = policy.chat_close_code(user, group)
        result[(user_id, group_id)] = (code, bool(membership and membership.is_muted),
                                       group.chat_seq if group else 0)
    return result


class Roster:
    """This process's open chat sockets, and the one task that beats for them."""

    def __init__(self, run_in_thread) -> None:
        self._sockets: dict[str, RosterSocket] = {}
        self._task: asyncio.Task | None = None
        self._run_in_thread = run_in_thread

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: RosterSocket) -> None:
        self._sockets[socket.channel_name] = socket
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.get_running_loop().create_task(self._beat_forever())

    def discard(self, socket: RosterSocket) -> None:
        self._sockets.pop(socket.channel_name, None)
        if not self._sockets and self._task is not None:
            self._task.cancel()  # nothing to beat for: don't leave a task sleeping
            self._task = None

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("chat: heartbeat failed", exc_info=True)

    async def beat(self) -> None:
        sockets = list(self._sockets.values())
        if not sockets:
            return
        visible = [s for s in sockets if not s.appear_offline]
        if visible:
            try:
                await get_presence().touch_many(
                    [(s.group.pk, s.user.pk, s.name, s.channel_name) for s in visible])
            except Exception:
                log.warning("chat: presence heartbeat failed", exc_info=True)
        for start in range(0, len(sockets), BATCH):
            batch = sockets[start:start + BATCH]
            pairs = {(s.user.pk, s.group.pk) for s in batch}
            standings = await self._run_in_thread(standings_for)(pairs)
            for socket in batch:
                if socket.channel_name not in self._sockets:
                    continue  # closed while we were asking
                code, muted, group_seq = standings[(socket.user.pk, socket.group.pk)]
                await socket.apply_standing(code, muted)
                if code is None:
                    await socket.check_caught_up(group_seq)
