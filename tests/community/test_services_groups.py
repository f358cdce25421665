"""Group services: founding a group, and the site staff's decision on it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http import Http404

from community import policy, realtime, services
from community.models import Group, JoinQuestion, Membership, Notification
from moderation.models import AuditEntry

A = AuditEntry.Action


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """These tests make many accounts; the slow production hasher adds nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def published(monkeypatch):
    """Every (channel group, event) the services broadcast, recorded instead of sent."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        realtime, "publish", lambda channel_group, event: events.append((channel_group, event))
    )
    return events


def found(actor, **fields) -> Group:
    fields.setdefault("name", "Long Covid Chat")
    fields.setdefault("description", "Talking about long Covid.")
    return services.create_group(actor=actor, **fields)


# --- create_group ----------------------------------------------------------------------------


def test_founder_becomes_owner_and_group_waits_for_staff_when_approval_is_needed(
    make_user, settings, published, mailoutbox, django_capture_on_commit_callbacks,
):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    founder = make_user("Founder")
    assert Group.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        group = found(
            founder, name="  Long Covid Chat ", privacy=Group.Privacy.OPEN, kind="condition",
            condition=" Long Covid ", questions=["First?", "", "  ", "Second?"],
            rules="Be kind.", welcome_message="Hello.",
        )

    group.refresh_from_db()
    assert group.status == Group.Status.PENDING
    assert (group.name, group.slug, group.condition) == (
        "Long Covid Chat", "long-covid-chat", "Long Covid",
    )
    assert group.privacy == Group.Privacy.OPEN
    assert group.created_by == founder
    owner = Membership.objects.get(group=group)
    assert (owner.user, owner.status, owner.role) == (founder, "approved", "owner")
    assert owner.joined_at is not None
    assert list(JoinQuestion.objects.filter(group=group).values_list("position", "text")) == [
        (0, "First?"), (1, "Second?"),
    ]
    entry = AuditEntry.objects.get(group=group)
    assert (entry.action, entry.actor, entry.group_name) == (
        A.GROUP_CREATED, founder, "Long Covid Chat",
    )
    assert entry.detail == {"privacy": "open", "status": "pending"}
    assert published == []
    assert mailoutbox == []


def test_pending_group_is_seen_only_by_its_founder_and_staff(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    founder, outsider, staff = make_user(), make_user(), make_user(staff=True)
    group = found(founder, privacy=Group.Privacy.OPEN)
    assert policy.can_view_group(founder, group)
    assert policy.can_view_group(staff, group)
    assert not policy.can_view_group(outsider, group)


def test_group_is_active_at_once_when_approval_is_off(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    group = found(make_user())
    assert group.status == Group.Status.ACTIVE
    assert AuditEntry.objects.get(group=group).detail["status"] == "active"


def test_staff_founded_group_is_active_even_when_approval_is_on(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    group = found(make_user(staff=True))
    assert group.status == Group.Status.ACTIVE


def test_same_name_gets_a_new_slug(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    founder = make_user()
    slugs = [found(founder).slug for _ in range(3)]
    assert slugs == ["long-covid-chat", "long-covid-chat-2", "long-covid-chat-3"]
    assert Group.objects.count() == 3


def test_a_wanted_slug_is_used_when_free(make_user):
    founder = make_user()
    assert found(founder, slug="lc-chat").slug == "lc-chat"
    assert found(founder, slug="lc-chat").slug == "lc-chat-2"


@pytest.mark.parametrize("word", ["new", "invite", "admin", "api", "static", "ws", "accounts",
                                  "help"])
def test_reserved_words_never_become_slugs(make_user, word):
    founder = make_user()
    by_name = found(founder, name=word.title())
    by_wish = found(founder, slug=word)
    assert by_name.slug != word
    assert by_wish.slug != word
    assert by_name.slug.startswith(word)
    assert not Group.objects.filter(slug=word).exists()


def test_a_name_with_no_letters_still_gets_a_slug(make_user):
    assert found(make_user(), name="!!!").slug == "group"


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "   "}, "name"),
        ({"description": ""}, "description"),
        ({"kind": Group.Kind.CONDITION, "condition": " "}, "condition"),
        ({"format": Group.Format.LOCAL, "town": ""}, "town"),
        ({"questions": [f"Q{i}?" for i in range(6)]}, "questions"),
    ],
)
def test_create_group_reports_each_problem_by_field(make_user, fields, bad):
    founder = make_user()
    with pytest.raises(ValidationError) as caught:
        found(founder, **fields)
    assert set(caught.value.message_dict) == {bad}
    assert Group.objects.count() == 0
    assert Membership.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize("field", ["privacy", "kind", "format"])
def test_create_group_refuses_values_that_are_not_choices(make_user, field):
    with pytest.raises(ValidationError) as caught:
        found(make_user(), **{field: "secret"})
    assert field in caught.value.message_dict
    assert Group.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_create_group_reports_all_problems_at_once(make_user):
    with pytest.raises(ValidationError) as caught:
        found(make_user(), name="", description="", kind=Group.Kind.CONDITION,
              format=Group.Format.LOCAL)
    assert set(caught.value.message_dict) == {"name", "description", "condition", "town"}


def test_five_questions_are_allowed(make_user, settings):
    most = settings.KINDRED_MAX_JOIN_QUESTIONS
    group = found(make_user(), questions=[f"Q{i}?" for i in range(most)])
    assert group.questions.count() == most


def test_anonymous_people_cannot_found_a_group(db):
    with pytest.raises(Http404):
        found(AnonymousUser())
    assert Group.objects.count() == 0


# --- approve_group / decline_group -------------------------------------------------------


@pytest.fixture
def pending_group(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    founder = make_user("Founder")
    return found(founder)


def test_staff_approves_a_group_and_the_founder_is_told(
    pending_group, make_user, published, mailoutbox, django_capture_on_commit_callbacks,
):
    staff = make_user("Staff", staff=True)
    founder = pending_group.created_by

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_group(actor=staff, group=pending_group, reason="Looks good.")

    pending_group.refresh_from_db()
    assert pending_group.status == Group.Status.ACTIVE
    entry = AuditEntry.objects.get(group=pending_group, action=A.GROUP_APPROVED)
    assert (entry.actor, entry.actor_name, entry.reason) == (staff, "Staff", "Looks good.")
    notice = Notification.objects.get(user=founder)
    assert notice.kind == Notification.Kind.GROUP_DECISION
    assert notice.group == pending_group
    assert [m.to for m in mailoutbox] == [[founder.email]]
    assert pending_group.name in mailoutbox[0].subject
    assert "Looks good." in mailoutbox[0].body
    assert [(g, e["type"]) for g, e in published] == [
        (realtime.user_group(founder.pk), realtime.NOTIFICATION)
    ]
    # Now anyone may find it.
    assert policy.can_view_group(make_user(), pending_group)


def test_staff_declines_a_group_and_the_founder_is_told(
    pending_group, make_user, published, mailoutbox, django_capture_on_commit_callbacks,
):
    staff = make_user(staff=True)
    founder = pending_group.created_by

    with django_capture_on_commit_callbacks(execute=True):
        services.decline_group(actor=staff, group=pending_group, reason="Duplicate group.")

    pending_group.refresh_from_db()
    assert pending_group.status == Group.Status.DECLINED
    entry = AuditEntry.objects.get(group=pending_group, action=A.GROUP_DECLINED)
    assert (entry.actor, entry.reason) == (staff, "Duplicate group.")
    assert Notification.objects.get(user=founder).kind == Notification.Kind.GROUP_DECISION
    assert len(mailoutbox) == 1
    assert "not approved" in mailoutbox[0].body
    assert "Duplicate group." in mailoutbox[0].body
    assert len(published) == 1
    assert not policy.can_view_group(make_user(), pending_group)


@pytest.mark.parametrize("decision", ["approve_group", "decline_group"])
@pytest.mark.parametrize("who", ["founder", "someone"])
def test_only_staff_decide_on_groups(
    pending_group, make_user, decision, who, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    actor = pending_group.created_by if who == "founder" else make_user()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Http404):
        getattr(services, decision)(actor=actor, group=pending_group)
    pending_group.refresh_from_db()
    assert pending_group.status == Group.Status.PENDING
    assert [e.action for e in AuditEntry.objects.filter(group=pending_group)] == [
        A.GROUP_CREATED
    ]
    assert Notification.objects.count() == 0
    assert published == []
    assert mailoutbox == []


def test_deciding_twice_changes_nothing_the_second_time(pending_group, make_user):
    staff = make_user(staff=True)
    services.approve_group(actor=staff, group=pending_group)
    services.decline_group(actor=staff, group=pending_group)
    pending_group.refresh_from_db()
    assert pending_group.status == Group.Status.ACTIVE
    assert AuditEntry.objects.filter(group=pending_group, action__in=[
        A.GROUP_APPROVED, A.GROUP_DECLINED]).count() == 1
    assert Notification.objects.count() == 1


def test_failed_audit_write_leaves_no_half_made_group(make_user, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("community.services.groups.record_audit", fail)
    with pytest.raises(RuntimeError):
        found(make_user(), questions=["Why?"])
    assert Group.objects.count() == 0
    assert Membership.objects.count() == 0
    assert JoinQuestion.objects.count() == 0


def test_failed_audit_write_rolls_back_a_group_decision(
    pending_group, make_user, monkeypatch, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    def fail(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("community.services.groups.record_audit", fail)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.approve_group(actor=make_user(staff=True), group=pending_group)
    pending_group.refresh_from_db()
    assert pending_group.status == Group.Status.PENDING
    assert Notification.objects.count() == 0
    assert published == []
    assert mailoutbox == []
