"""Places on groups and people, "let people near me know I'm here", and local groups
started from an online one.

Only approximate distances and counts ever leave here: a member's town is never shown
to anyone else, and nearby counts below three are never revealed.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from community import gazetteer, policy
from community.models import Group, Membership, Notification, Signpost, User
from community.services.notifications import notify

NEARBY_MILES = 25


def locate_town(town: str) -> dict:
    """The fields to store for a group's town: its gazetteer name, id and coordinates
    when we know the place (resolved once, on save), else the text as typed."""
    town = (town or "").strip()
    place = gazetteer.resolve(town) if town else None
    if place is None:
        return {"town": town}
    return {"town": place.name, "place_id": place.id, "latitude": place.latitude,
            "longitude": place.longitude}


def home_place_fields(home_town: str) -> dict:
    """A member's home town as stored on their account; a ValidationError if unknown."""
    home_town = (home_town or "").strip()
    if not home_town:
        return {"home_town": "", "home_place_id": None, "home_latitude": None,
                "home_longitude": None}
    place = gazetteer.resolve(home_town)
    if place is None:
        from community.forms_places import not_found_message

        raise ValidationError({"home_town": not_found_message(gazetteer.suggest(home_town))})
    return {"home_town": place.name, "home_place_id": place.id,
            "home_latitude": place.latitude, "home_longitude": place.longitude}


def set_share_nearby(*, actor: User, group: Group, share: bool) -> Membership:
    """Opt in or out of being counted (never named) for members who live nearby."""
    policy.require_member(actor, group)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(
            user=actor, group=group, status=Membership.Status.APPROVED
        )
        if membership.share_nearby != share:
            membership.share_nearby = share
            membership.save(update_fields=["share_nearby", "updated_at"])
    policy.forget_memberships(actor)
    return membership


def start_local_group(
    *,
    actor: User,
    parent: Group,
    name: str,
    description: str,
    town: str,
    privacy: str,
    rules: str = "",
    welcome_message: str = "",
    questions: list[str] | None = None,
) -> Group:
    """A local group spun off an online one: made by the usual `create_group` (so it
    waits for staff when the site says so), linked to its parent, with the parent's
    signposts copied. Opted-in members nearby hear of it once it is open."""
    from community.services.groups import create_group  # groups imports this module

    policy.require_member(actor, parent)
    policy.require(parent.format == Group.Format.ONLINE)
    if not (town or "").strip():
        raise ValidationError({"town": "Please say which town or area the group meets in."})
    if gazetteer.resolve(town) is None:
        from community.forms_places import not_found_message

        raise ValidationError({"town": not_found_message(gazetteer.suggest(town))})
    with transaction.atomic():
        group = create_group(
            actor=actor, name=name, description=description, kind=parent.kind,
            condition=parent.condition, format=Group.Format.LOCAL, town=town,
            privacy=privacy, rules=rules, welcome_message=welcome_message,
            questions=questions,
        )
        group.parent = parent
        group.save(update_fields=["parent"])
        copies = [
            Signpost(
                group=group, topic=s.topic, name=s.name, phone=s.phone,
                text_number=s.text_number, email=s.email, url=s.url, hours=s.hours,
                who_for=s.who_for, description=s.description, position=s.position,
                last_checked=s.last_checked, updated_by=actor,
            )
            for s in Signpost.objects.filter(group=parent).order_by("position", "pk")
        ]
        Signpost.objects.bulk_create(copies)
        if group.status == Group.Status.ACTIVE:
            announce_local_group(group=group)
    return group


def announce_local_group(*, group: Group) -> int:
    """Tell opted-in members of the parent who live within about 25 miles that a local
    group has opened. Each person hears once, whoever calls this and however often: the
    founder never. Returns how many were told."""
    if group.parent_id is None or group.latitude is None or group.longitude is None:
        return 0
    from community.selectors_near import opted_in_near  # selectors import policy only

    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.status != Group.Status.ACTIVE:
            return 0
        told = set(
            Notification.objects.filter(kind=Notification.Kind.LOCAL_GROUP, group=group)
            .values_list("user_id", flat=True)
        )
        people = [
            person for person in opted_in_near(
                group.parent, latitude=group.latitude, longitude=group.longitude,
                miles=NEARBY_MILES, exclude_user_id=group.created_by_id,
            )
            if person.pk not in told
        ]
        url = group.get_absolute_url()
        if group.is_invite_only and people:
            from community.services.invites import create_invite

            founder = group.created_by
            if founder is None or not policy.can_create_invites(founder, group):
                return 0
            invite = create_invite(actor=founder, group=group, expires_in_days=60,
                                   max_uses=min(len(people), 1000),
                                   note=f"Members near {group.town} from {group.parent}")
            from django.urls import reverse

            url = reverse("groups:invite", kwargs={"token": invite.token})
        for person in people:
            notify(
                user=person, kind=Notification.Kind.LOCAL_GROUP, group=group, url=url,
                text=(f"A new local group has started near you: {group.name}, in "
                      f"{group.town}. You are welcome to join."),
            )
    return len(people)
