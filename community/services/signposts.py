"""Signposts and the resources library: a group's moderators keep their own helplines and
useful links; site staff keep the site's signposts (in the admin) and are reminded to
re-check each one twice a year.

Signposts feed screening's help panels, so every change refreshes the screening caches
after commit (`rulebook.changed`). Resources are not part of screening and need no
refresh.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from community import policy
from community.models import Group, Notification, Resource, Signpost, User
from community.models.signposts import RECHECK_AFTER
from community.services.notifications import notify
from community.text import render_markdown, strip_controls
from moderation import rulebook
from moderation.models import AuditEntry
from moderation.services.audit import record_audit

MAX_GROUP_SIGNPOSTS = 50
MAX_GROUP_RESOURCES = 200
REMIND_EVERY = timedelta(days=30)
NEEDS_CHECK_PARAM = "needs_check"  # the admin filter's query parameter

SIGNPOST_FIELDS = ("topic", "name", "phone", "text_number", "email", "url", "hours",
                   "who_for", "description", "position")
_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{1,38}$")


def _tidy(value: Any) -> str:
    return " ".join(strip_controls(str(value or "")).split())


def _check_url(url: str, errors: dict) -> None:
    if url and not url.lower().startswith(("https://", "http://")):
        errors["url"] = "Please give the full web address, starting with https://"


def _signpost_errors(fields: dict) -> dict:
    errors: dict[str, str] = {}
    if not fields.get("name"):
        errors["name"] = "Please give the name of the service."
    if fields.get("topic") not in Signpost.Topic.values:
        errors["topic"] = "Please choose when it should be shown from the list."
    for name in ("phone", "text_number"):
        if fields.get(name) and not _NUMBER.match(fields[name]):
            errors[name] = "Please use only numbers and spaces (a + or brackets are fine)."
    _check_url(fields.get("url", ""), errors)
    reachable = any(fields.get(k) for k in ("phone", "text_number", "email", "url"))
    if not errors and not reachable:
        errors["phone"] = ("Please give at least one way to get in touch: a phone number, a "
                           "text number, an email address or a website.")
    return errors


def save_group_signpost(*, actor: User, group: Group, signpost: Signpost | None = None,
                        **fields: Any) -> Signpost:
    """Add or change one of the group's own signposts (a charity's helpline, the local
    specialist nurses). Saving it counts as checking it today."""
    policy.require_moderator(actor, group)
    if signpost is not None:
        policy.require(signpost.group_id == group.pk)
    unknown = set(fields) - set(SIGNPOST_FIELDS)
    if unknown:
        raise TypeError(f"Unknown signpost fields: {sorted(unknown)}")
    current = {name: getattr(signpost, name) for name in SIGNPOST_FIELDS} if signpost else {
        "topic": Signpost.Topic.SUPPORT, "position": 0}
    values = {**current, **fields}
    for name in SIGNPOST_FIELDS:
        if name != "position":
            values[name] = _tidy(values.get(name))
    values["position"] = int(values.get("position") or 0)
    errors = _signpost_errors(values)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Group.objects.select_for_update().filter(pk=group.pk).first()
        adding = signpost is None
        if adding:
            if Signpost.objects.filter(group=group).count() >= MAX_GROUP_SIGNPOSTS:
                raise ValidationError(f"This group already has {MAX_GROUP_SIGNPOSTS} "
                                      "signposts, the most it can. Please remove one first.")
            signpost = Signpost(group=group, region="")
        else:
            signpost = Signpost.objects.select_for_update().get(pk=signpost.pk, group=group)
        for name, value in values.items():
            setattr(signpost, name, value)
        signpost.updated_by = actor
        signpost.last_checked = timezone.localdate()
        signpost.full_clean()
        signpost.save()
        record_audit(action=AuditEntry.Action.SIGNPOST_SAVED, actor=actor, group=group,
                     detail={"signpost_id": signpost.pk, "name": signpost.name,
                             "topic": signpost.topic, "added": adding})
        transaction.on_commit(rulebook.changed)
    return signpost


def delete_group_signpost(*, actor: User, signpost: Signpost) -> None:
    """Remove one of the group's signposts. Site signposts are kept by staff (admin)."""
    policy.require(signpost.group_id is not None)
    group = signpost.group
    policy.require_moderator(actor, group)
    with transaction.atomic():
        deleted, _ = Signpost.objects.filter(pk=signpost.pk, group=group).delete()
        policy.require(bool(deleted))
        record_audit(action=AuditEntry.Action.SIGNPOST_DELETED, actor=actor, group=group,
                     detail={"signpost_id": signpost.pk, "name": signpost.name,
                             "topic": signpost.topic})
        transaction.on_commit(rulebook.changed)


# --- the resources library --------------------------------------------------------------------


def save_resource(*, actor: User, group: Group, resource: Resource | None = None, title: str,
                  url: str = "", body: str = "", position: int | None = None) -> Resource:
    """Add or change a link or short document in the group's library. The body is
    Markdown, rendered once here and stored beside the source."""
    policy.require_moderator(actor, group)
    if resource is not None:
        policy.require(resource.group_id == group.pk)
    title, url = _tidy(title), (url or "").strip()
    body = strip_controls(body or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Please give it a title."
    _check_url(url, errors)
    if not url and not body:
        errors["url"] = "Please give a web address, or write something below (or both)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Group.objects.select_for_update().filter(pk=group.pk).first()
        adding = resource is None
        if adding:
            if Resource.objects.filter(group=group).count() >= MAX_GROUP_RESOURCES:
                raise ValidationError(f"This library already holds {MAX_GROUP_RESOURCES} "
                                      "resources, the most it can. Please remove one first.")
            resource = Resource(group=group, added_by=actor)
        else:
            resource = Resource.objects.select_for_update().get(pk=resource.pk, group=group)
        resource.title, resource.url, resource.body = title, url, body
        if position is not None:
            resource.position = position
        resource.body_html = render_markdown(body)
        resource.full_clean()
        resource.save()
        record_audit(action=AuditEntry.Action.RESOURCE_SAVED, actor=actor, group=group,
                     detail={"resource_id": resource.pk, "title": title, "added": adding})
    return resource


def delete_resource(*, actor: User, resource: Resource) -> None:
    group = resource.group
    policy.require_moderator(actor, group)
    with transaction.atomic():
        deleted, _ = Resource.objects.filter(pk=resource.pk, group=group).delete()
        policy.require(bool(deleted))
        record_audit(action=AuditEntry.Action.RESOURCE_DELETED, actor=actor, group=group,
                     detail={"resource_id": resource.pk, "title": resource.title})


# --- site signposts, kept by staff in the admin -------------------------------------------------


def save_signpost_as_staff(*, actor: User, signpost: Signpost, adding: bool) -> Signpost:
    """Staff saved a signpost in the admin (the admin form has validated it)."""
    policy.require(policy.is_site_staff(actor))
    with transaction.atomic():
        signpost.updated_by = actor
        signpost.save()
        record_audit(action=AuditEntry.Action.SIGNPOST_SAVED, actor=actor,
                     group=signpost.group,
                     detail={"signpost_id": signpost.pk, "name": signpost.name,
                             "region": signpost.region, "added": adding})
        transaction.on_commit(rulebook.changed)
    return signpost


def delete_signposts_as_staff(*, actor: User, signposts: Iterable[Signpost]) -> int:
    policy.require(policy.is_site_staff(actor))
    done = 0
    with transaction.atomic():
        for signpost in signposts:
            record_audit(action=AuditEntry.Action.SIGNPOST_DELETED, actor=actor,
                         group=signpost.group,
                         detail={"signpost_id": signpost.pk, "name": signpost.name,
                                 "region": signpost.region})
            signpost.delete()
            done += 1
        transaction.on_commit(rulebook.changed)
    return done


def mark_signposts_checked(*, actor: User, signposts: Iterable[Signpost]) -> int:
    """Staff have checked these against the services' own sites today."""
    policy.require(policy.is_site_staff(actor))
    ids = [signpost.pk for signpost in signposts]
    today = timezone.localdate()
    with transaction.atomic():
        done = Signpost.objects.filter(pk__in=ids).update(
            last_checked=today, check_reminded_at=None, updated_by=actor)
        record_audit(action=AuditEntry.Action.SIGNPOST_SAVED, actor=actor,
                     detail={"signpost_ids": ids, "checked": today.isoformat()})
        transaction.on_commit(rulebook.changed)
    return done


# --- timed job (run_scheduler) -------------------------------------------------------------


def signposts_needing_check(now: datetime) -> QuerySet[Signpost]:
    """Site signposts last checked more than six months ago."""
    return Signpost.objects.filter(group__isnull=True,
                                   last_checked__lt=timezone.localdate(now) - RECHECK_AFTER)


def remind_signpost_checks(now: datetime) -> int:
    """Tell site staff, once a month at most, how many site signposts need re-checking, so
    nobody in crisis is given a number that no longer works. Returns how many signposts
    the reminder was about (0 when none was due)."""
    due = signposts_needing_check(now).filter(
        Q(check_reminded_at__isnull=True) | Q(check_reminded_at__lt=now - REMIND_EVERY))
    with transaction.atomic():
        ids = list(due.select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        waiting = signposts_needing_check(now).count()
        url = (reverse("admin:community_signpost_changelist") + f"?{NEEDS_CHECK_PARAM}=yes")
        text = (f"{waiting} site signpost{'s need' if waiting != 1 else ' needs'} "
                "re-checking: the details were last checked more than six months ago. "
                "Please check the phone numbers and websites still work.")
        for person in User.objects.filter(is_staff=True, is_active=True).order_by("pk"):
            notify(user=person, kind=Notification.Kind.SIGNPOST_CHECK, text=text, url=url)
        Signpost.objects.filter(pk__in=ids).update(check_reminded_at=now)
    return len(ids)
