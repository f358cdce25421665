"""Starting groups and the site staff's decision on them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from community import policy
from community.models import Group, JoinQuestion, Membership, Notification, User
from community.services.notifications import notify
from moderation.models import AuditEntry
from moderation.services import record_audit

RESERVED_SLUGS = frozenset({"new", "invite", "admin", "api", "static", "ws", "accounts", "help"})


def unique_slug(name: str, *, wanted: str = "") -> str:
    base = slugify(wanted or name)[:50].strip("-") or "group"
    if base in RESERVED_SLUGS:
        base = f"{base}-group"
    slug, n = base, 2
    while Group.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


def create_group(
    *,
    actor: User,
    name: str,
    description: str,
    kind: str = Group.Kind.GENERIC,
    condition: str = "",
    format: str = Group.Format.ONLINE,
    town: str = "",
    privacy: str = Group.Privacy.APPROVAL,
    rules: str = "",
    welcome_message: str = "",
    questions: list[str] | None = None,
    slug: str = "",
) -> Group:
    """Start a group; the founder becomes its owner. Waits for staff if the site says so."""
    policy.require(policy.is_authenticated(actor))
    questions = [q.strip() for q in (questions or []) if q and q.strip()]
    errors: dict[str, str] = {}
    for field, value, choices in (
        ("kind", kind, Group.Kind.values),
        ("format", format, Group.Format.values),
        ("privacy", privacy, Group.Privacy.values),
    ):
        if value not in choices:
            errors[field] = "Please choose one of the options."
    if not name.strip():
        errors["name"] = "Please give the group a name."
    if not description.strip():
        errors["description"] = "Please say what the group is for."
    if kind == Group.Kind.CONDITION and not condition.strip():
        errors["condition"] = "Please name the condition the group is about."
    if format == Group.Format.LOCAL and not town.strip():
        errors["town"] = "Please say which town or area the group meets in."
    if len(questions) > settings.KINDRED_MAX_JOIN_QUESTIONS:
        errors["questions"] = f"Please ask at most {settings.KINDRED_MAX_JOIN_QUESTIONS} questions."
    if errors:
        raise ValidationError(errors)
    needs_approval = settings.KINDRED_GROUPS_NEED_APPROVAL and not actor.is_staff
    from community.services.local_groups import locate_town  # it builds on this module

    located = locate_town(town)  # resolved once, here: town name, place id and lat/lon
    for _attempt in range(3):
        try:
            with transaction.atomic():
                group = Group.objects.create(
                    name=name.strip(),
                    slug=unique_slug(name, wanted=slug),
                    description=description.strip(),
                    kind=kind,
                    condition=condition.strip(),
                    format=format,
                    privacy=privacy,
                    **located,
                    rules=rules.strip(),
                    welcome_message=welcome_message.strip(),
                    status=Group.Status.PENDING if needs_approval else Group.Status.ACTIVE,
                    created_by=actor,
                )
                JoinQuestion.objects.bulk_create(
                    JoinQuestion(group=group, position=i, text=text[:300])
                    for i, text in enumerate(questions)
                )
                now = timezone.now()
                Membership.objects.create(
                    user=actor, group=group, status=Membership.Status.APPROVED,
                    role=Membership.Role.OWNER, requested_at=now, joined_at=now,
                    decided_at=now,
                )
                from forums.services import create_default_categories  # forums build on groups

                create_default_categories(group)
                record_audit(action=AuditEntry.Action.GROUP_CREATED, actor=actor, group=group,
                             detail={"privacy": privacy, "status": group.status})
            policy.forget_memberships(actor)
            return group
        except IntegrityError:  # two founders raced for the same slug; pick again
            continue
    raise ValidationError({"name": "Please try a different name."})


def _decide_group(*, actor: User, group: Group, approve: bool, reason: str) -> Group:
    policy.require(policy.is_site_staff(actor))
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.status != Group.Status.PENDING:
            return group
        group.status = Group.Status.ACTIVE if approve else Group.Status.DECLINED
        group.save(update_fields=["status"])
        action = AuditEntry.Action.GROUP_APPROVED if approve else AuditEntry.Action.GROUP_DECLINED
        record_audit(action=action, actor=actor, group=group, reason=reason)
        if group.created_by is not None:
            outcome = "is now open on Kindred" if approve else "was not approved"
            notify(user=group.created_by, kind=Notification.Kind.GROUP_DECISION,
                   text=f"Your group {group.name} {outcome}.", url=group.get_absolute_url(),
                   group=group, email_subject=f"Your group {group.name}",
                   email_body=f"Your group {group.name} {outcome}.\n\n{reason}".strip())
    return group


def approve_group(*, actor: User, group: Group, reason: str = "") -> Group:
    group = _decide_group(actor=actor, group=group, approve=True, reason=reason)
    if group.parent_id is not None and group.status == Group.Status.ACTIVE:
        from community.services.local_groups import announce_local_group

        announce_local_group(group=group)  # tells each nearby member once, however called
    return group


def decline_group(*, actor: User, group: Group, reason: str = "") -> Group:
    return _decide_group(actor=actor, group=group, approve=False, reason=reason)
