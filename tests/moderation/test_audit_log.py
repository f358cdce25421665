"""The audit log is append-only: in code, in the admin, and after accounts are deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.utils import timezone

from community.models import Group
from moderation.models import AppendOnlyError, AuditEntry
from moderation.services import record_audit

A = AuditEntry.Action
CHANGELIST = "/admin/moderation/auditentry/"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def entry(make_user, make_group):
    moderator, member = make_user("Mod Mo"), make_user("Member Sam")
    group = make_group(name="Carers Corner")
    with transaction.atomic():
        return record_audit(action=A.MEMBER_BANNED, actor=moderator, group=group,
                            target_user=member, reason="Abuse", detail={"n": 1})


def unchanged(entry: AuditEntry) -> bool:
    stored = AuditEntry.objects.get(pk=entry.pk)
    return (stored.action, stored.reason, stored.detail, stored.actor_name) == (
        A.MEMBER_BANNED, "Abuse", {"n": 1}, "Mod Mo",
    )


# --- record_audit --------------------------------------------------------------------------------


def test_record_audit_copies_names_so_the_record_reads_on_its_own(entry):
    assert (entry.actor_name, entry.target_name, entry.group_name) == (
        "Mod Mo", "Member Sam", "Carers Corner",
    )
    assert entry.created_at <= timezone.now()


def test_record_audit_names_the_site_when_there_is_no_actor(db):
    with transaction.atomic():
        made = record_audit(action=A.GROUP_APPROVED, actor=None)
    assert made.actor is None
    assert made.actor_name == "Kindred"


@pytest.mark.django_db(transaction=True)
def test_record_audit_refuses_to_write_outside_a_transaction():
    with pytest.raises(RuntimeError):
        record_audit(action=A.GROUP_APPROVED, actor=None, reason="loose")
    assert AuditEntry.objects.count() == 0


# --- no change, no delete ------------------------------------------------------------------------


def test_saving_an_existing_entry_is_refused(entry):
    entry.reason = "Edited"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.save(update_fields=["reason"])
    assert unchanged(entry)


def test_a_loaded_entry_cannot_be_saved_either(entry):
    loaded = AuditEntry.objects.get(pk=entry.pk)
    loaded.action = A.MEMBER_JOINED
    with pytest.raises(AppendOnlyError):
        loaded.save()
    assert unchanged(entry)


def test_a_new_object_reusing_an_entrys_id_cannot_overwrite_it(entry):
    """Model(pk=...).save() on an unsaved object runs an UPDATE when the row exists."""
    forged = AuditEntry(pk=entry.pk, action=A.MEMBER_JOINED, actor_name="Forger",
                        reason="Nothing happened")
    with pytest.raises((AppendOnlyError, IntegrityError)), transaction.atomic():
        forged.save()
    assert unchanged(entry)


def test_queryset_update_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="Edited")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.update(reason="Edited")
    entry.reason = "Edited"
    # bulk_update opens its own atomic block; the savepoint keeps the test's usable.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["reason"])
    assert unchanged(entry)


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert unchanged(entry)


def test_deleting_the_people_keeps_the_entry_and_their_names(entry):
    entry.actor.delete()
    entry.target_user.delete()
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor is None
    assert stored.target_user is None
    assert (stored.actor_name, stored.target_name, stored.reason) == (
        "Mod Mo", "Member Sam", "Abuse",
    )


def test_deleting_the_group_keeps_the_entry_and_its_name(entry):
    Group.objects.filter(pk=entry.group_id).delete()
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.group is None
    assert stored.group_name == "Carers Corner"


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def superuser(make_user):
    user = make_user("Admin", staff=True)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def reader(make_user):
    """Site staff given the 'view audit entry' permission, nothing more."""
    user = make_user("Reader", staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    return user


@pytest.mark.parametrize("who", ["superuser", "reader"])
def test_staff_can_read_the_log_in_the_admin(client, entry, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "Mod Mo" in response.content.decode()
    assert client.get(f"{CHANGELIST}{entry.pk}/change/").status_code == 200


def test_members_cannot_see_the_log_in_the_admin(client, entry, make_user):
    client.force_login(make_user())
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("who", ["superuser", "reader"])
def test_admin_offers_no_add_change_or_delete(client, entry, who, request):
    client.force_login(request.getfixturevalue(who))
    page = client.get(CHANGELIST).content.decode()
    assert f"{CHANGELIST}add/" not in page
    assert "delete_selected" not in page

    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}add/", {"action": A.GROUP_APPROVED}).status_code == 403
    assert client.post(f"{CHANGELIST}{entry.pk}/change/", {
        "action": A.MEMBER_JOINED, "reason": "Edited", "actor_name": "Someone",
    }).status_code == 403
    assert client.get(f"{CHANGELIST}{entry.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk],
                             "post": "yes"})

    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert unchanged(entry)
