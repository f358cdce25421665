"""Reads about distance: groups near a place, and how many opted-in members live nearby.

The database narrows to a latitude/longitude box (plain indexes, works on SQLite and
PostgreSQL alike); the exact great-circle distance is then worked out in Python. Every
read is a fixed number of queries, however many groups or members there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from community import gazetteer, policy
from community.models import Group, Membership, User

MAX_NEAR_RESULTS = 100
MAX_ONLINE_RESULTS = 20
K_ANONYMITY = 3


@dataclass(frozen=True)
class NearGroup:
    group: Group
    miles: float

    @property
    def about(self) -> str:
        return gazetteer.about_distance(self.miles)


def _box(latitude: float, longitude: float, miles: float) -> Q:
    """A lat/lon box a little larger than the circle, for the database to narrow on."""
    dlat = miles / 69.0 + 0.01
    dlon = miles / max(1.0, 69.172 * math.cos(math.radians(latitude))) + 0.01
    return Q(latitude__gte=latitude - dlat, latitude__lte=latitude + dlat,
             longitude__gte=longitude - dlon, longitude__lte=longitude + dlon)


def _user_box(latitude: float, longitude: float, miles: float) -> Q:
    box = _box(latitude, longitude, miles)
    return Q(*[(f"user__home_{k}", v) for k, v in box.children])


def groups_near(user, *, latitude: float, longitude: float, miles: float, q: str = "",
                kind: str = "") -> list[NearGroup]:
    """Local groups this person may see within `miles`, nearest first (one query)."""
    groups = policy.visible_groups(user).filter(
        _box(latitude, longitude, miles), format=Group.Format.LOCAL,
        latitude__isnull=False, longitude__isnull=False,
    )
    if q:
        groups = groups.filter(
            Q(name__icontains=q) | Q(condition__icontains=q) | Q(description__icontains=q)
        )
    if kind in Group.Kind.values:
        groups = groups.filter(kind=kind)
    found = []
    for group in groups[: MAX_NEAR_RESULTS * 4]:
        miles_away = gazetteer.distance_miles(latitude, longitude, group.latitude,
                                              group.longitude)
        if miles_away <= miles:
            found.append(NearGroup(group, miles_away))
    found.sort(key=lambda near: (near.miles, near.group.name.lower(), near.group.pk))
    return found[:MAX_NEAR_RESULTS]


def online_groups_for(user, *, conditions: list[str], q: str = "", kind: str = ""
                      ) -> list[Group]:
    """Online groups this person may see for the same conditions (or matching `q`)."""
    wanted = sorted({c.strip().lower() for c in conditions if c and c.strip()})[:30]
    match = Q()
    if wanted:
        match |= Q(condition_lower__in=wanted)
    if q:
        match |= Q(condition__icontains=q) | Q(name__icontains=q)
    if not match:
        return []
    groups = (
        policy.visible_groups(user).filter(format=Group.Format.ONLINE)
        .annotate(condition_lower=Lower("condition")).filter(match)
    )
    if kind in Group.Kind.values:
        groups = groups.filter(kind=kind)
    return list(groups.order_by("name", "pk")[:MAX_ONLINE_RESULTS])


def opted_in_near(group: Group, *, latitude: float, longitude: float, miles: float,
                  exclude_user_id: int | None = None) -> list[User]:
    """Approved members of `group` who opted in and whose home is within `miles`."""
    rows = (
        Membership.objects.filter(
            _user_box(latitude, longitude, miles), group=group,
            status=Membership.Status.APPROVED, share_nearby=True, user__is_active=True,
            user__home_latitude__isnull=False, user__home_longitude__isnull=False,
        )
        .exclude(user_id=exclude_user_id)
        .select_related("user")
    )
    return [
        row.user for row in rows
        if gazetteer.distance_miles(latitude, longitude, row.user.home_latitude,
                                    row.user.home_longitude) <= miles
    ]


def nearby_count(group: Group, viewer, *, miles: float) -> int | None:
    """How many other opted-in members live within `miles` of the viewer's home town,
    or None when it must not be shown: fewer than three (never who), no home town, or
    the viewer is not a member."""
    if not policy.is_member(viewer, group):
        return None
    if viewer.home_latitude is None or viewer.home_longitude is None:
        return None
    rows = Membership.objects.filter(
        _user_box(viewer.home_latitude, viewer.home_longitude, miles), group=group,
        status=Membership.Status.APPROVED, share_nearby=True, user__is_active=True,
        user__home_latitude__isnull=False, user__home_longitude__isnull=False,
    ).exclude(user_id=viewer.pk).values_list("user__home_latitude", "user__home_longitude")
    count = sum(
        1 for lat, lon in rows
        if gazetteer.distance_miles(viewer.home_latitude, viewer.home_longitude, lat, lon)
        <= miles
    )
    return count if count >= K_ANONYMITY else None


def local_groups_of(user, group: Group) -> QuerySet[Group]:
    """Local groups started from this one that the viewer may know about."""
    return policy.visible_groups(user).filter(parent=group).order_by("name", "pk")
