"""Site staff (without per-model permissions) read the audit log and groups in the admin,
and still cannot change the audit log; members cannot reach the admin at all."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/moderation/auditentry/", "/admin/community/group/",
                                  "/admin/community/membership/"])
def test_plain_site_staff_can_read(client, make_user, path):
    client.force_login(make_user("Safeguarding", staff=True))
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_plain_site_staff_cannot_add_audit_entries(client, make_user):
    client.force_login(make_user("Safeguarding", staff=True))
    assert client.get("/admin/moderation/auditentry/add/").status_code == 403


@pytest.mark.django_db
def test_members_are_sent_to_the_admin_login(client, make_user):
    client.force_login(make_user("Member"))
    response = client.get("/admin/moderation/auditentry/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
