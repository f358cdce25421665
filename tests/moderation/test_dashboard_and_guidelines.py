"""The moderators' health dashboard and each group's moderators-only guidelines page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.models import Group
from moderation.models import AuditEntry, Case
from moderation.selectors import health
from tests.conftest import add_membership


@pytest.fixture
def setup(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL, name="Lung Friends")
    mod, member = make_user("Mara Mod"), make_user("Mel Member")
    add_membership(mod, group, "approved", "moderator")
    add_membership(member, group, "approved")
    owner = group.memberships.get(role="owner").user
    return group, owner, mod, member


@pytest.mark.django_db
def test_health_counts_open_cases_medians_and_decisions(setup):
    group, _owner, mod, _member = setup
    now = timezone.now()
    opened = now - timedelta(days=2)
    Case.objects.create(group=group, kind="thread", urgent=True, opened_at=opened,
                        first_action_at=opened + timedelta(minutes=4))
    Case.objects.create(group=group, kind="thread", urgent=False, opened_at=opened,
                        first_action_at=opened + timedelta(minutes=60), status="resolved",
                        decision="remove", resolved_by=mod, resolved_at=now)
    Case.objects.create(group=group, kind="thread", opened_at=now - timedelta(weeks=6),
                        status="resolved", decision="keep")  # too old to count
    [row] = health([group], now)
    assert row["open"] == 1
    assert row["urgent_minutes"] == 4 and row["other_minutes"] == 60
    assert row["decisions"] == [("Remove it", 1)]


@pytest.mark.django_db
def test_dashboard_shows_only_groups_you_moderate(client, setup, make_group):
    group, _owner, mod, member = setup
    other = make_group(Group.Privacy.APPROVAL, name="Someone Else's Group")
    client.force_login(mod)
    body = client.get("/moderation/dashboard/").content.decode()
    assert "Lung Friends" in body and "Someone Else" not in body
    client.force_login(member)
    assert "Lung Friends" not in client.get("/moderation/dashboard/").content.decode()
    assert other.name not in body


@pytest.mark.django_db
def test_guidelines_are_for_moderators_and_owners_edit_them(client, setup):
    group, owner, mod, member = setup
    url = f"/moderation/guidelines/{group.slug}/"
    client.force_login(member)
    assert client.get(url).status_code == 404
    client.force_login(mod)
    page = client.get(url).content.decode()
    assert "Samaritans" in page and "Save the guidelines" not in page
    assert client.post(url, {"text": "Moderators may not edit"}).status_code == 404
    client.force_login(owner)
    assert client.post(url, {"text": "Call Jo if worried."}).status_code == 302
    group.refresh_from_db()
    assert group.moderator_guidelines == "Call Jo if worried."
    assert AuditEntry.objects.filter(action="moderator.guidelines", group=group).exists()
    client.force_login(mod)
    assert "Call Jo if worried." in client.get(url).content.decode()
