"""Starting a group from the guided form: the group, its place, its own signposts and
resources, in one transaction, so a founder never ends up with half a group."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse

from community.models import Group, Notification, User
from community.services.groups import create_group
from community.services.notifications import notify
from community.services.signposts import save_group_signpost, save_resource


@dataclass(frozen=True)
class PlaceRef:
    """A gazetteer place as the draft keeps it."""

    id: int
    latitude: float
    longitude: float


def start_group(
    *,
    actor: User,
    name: str,
    description: str,
    kind: str,
    condition: str = "",
    format: str = Group.Format.ONLINE,
    town: str = "",
    place: PlaceRef | None = None,
    privacy: str = Group.Privacy.APPROVAL,
    rules: str = "",
    welcome_message: str = "",
    questions: list[str] | None = None,
    helpline: dict[str, str] | None = None,
    link: dict[str, str] | None = None,
) -> Group:
    """Create the group through `create_group` (the founder becomes owner; it waits for
    site staff when the site says so), then add what the founder gave in the last steps.
    Any ValidationError leaves nothing behind."""
    with transaction.atomic():
        group = create_group(
            actor=actor, name=name, description=description, kind=kind, condition=condition,
            format=format, town=town, privacy=privacy, rules=rules,
            welcome_message=welcome_message, questions=questions or [],
        )
        if place is not None and format == Group.Format.LOCAL:
            Group.objects.filter(pk=group.pk).update(
                place_id=place.id, latitude=place.latitude, longitude=place.longitude
            )
            group.place_id, group.latitude, group.longitude = (
                place.id, place.latitude, place.longitude)
        if helpline and helpline.get("name"):
            save_group_signpost(actor=actor, group=group, topic="support",
                                name=helpline["name"], phone=helpline.get("phone", ""),
                                hours=helpline.get("hours", ""))
        if link and link.get("url"):
            save_resource(actor=actor, group=group, title=link.get("title", ""),
                          url=link["url"])
        if group.status == Group.Status.PENDING:
            _tell_site_staff(group)
    return group


def _tell_site_staff(group: Group) -> None:
    """Site staff approve new groups: each hears of one waiting (in-app only)."""
    url = reverse("admin:community_group_change", args=[group.pk])
    for person in User.objects.filter(is_staff=True, is_active=True).order_by("pk")[:50]:
        notify(user=person, kind=Notification.Kind.GROUP_DECISION,
               text=f"A new group is waiting for your approval: {group.name}.", url=url)
