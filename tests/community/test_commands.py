"""Management commands: the demo community and the benchmark set-up (CONTRACT.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from community.management.commands.seed_demo import DEMO_PASSWORD, PEOPLE
from community.models import Group, Membership, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The commands make many accounts; the slow production hasher adds nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()}


# --- seed_demo ---------------------------------------------------------------------------


def test_seed_demo_runs_twice_without_duplicating_anything():
    run("seed_demo")
    first = row_counts()
    assert first["community.User"] >= len(PEOPLE)

    run("seed_demo")

    second = row_counts()
    changed = {label: (first[label], second[label]) for label in first
               if first[label] != second[label]}
    assert changed == {}


def test_seed_demo_prints_the_demo_logins():
    output = run("seed_demo")
    for email, _name, _staff in PEOPLE:
        assert email in output
    assert DEMO_PASSWORD in output
    # The second run prints them too.
    assert PEOPLE[0][0] in run("seed_demo")


def test_seed_demo_makes_groups_of_every_privacy_and_kind_with_people_in_every_role():
    run("seed_demo")
    groups = Group.objects.all()
    assert {g.privacy for g in groups} == set(Group.Privacy.values)
    assert {g.kind for g in groups} == set(Group.Kind.values)
    assert {g.status for g in groups} == {Group.Status.ACTIVE}
    approved = Membership.objects.filter(status=Membership.Status.APPROVED)
    assert {m.role for m in approved} == set(Membership.Role.values)
    assert Membership.objects.filter(status=Membership.Status.PENDING).exists()
    for group in groups:
        assert approved.filter(group=group, role=Membership.Role.OWNER).exists(), group.slug
    staff = User.objects.filter(is_staff=True)
    assert staff.exists()
    assert EmailAddress.objects.filter(user__in=staff, verified=True).exists()


def test_demo_people_are_verified_and_can_log_in():
    run("seed_demo")
    emails = [email for email, _name, _staff in PEOPLE]
    verified = EmailAddress.objects.filter(email__in=emails, verified=True, primary=True)
    assert verified.count() == len(emails)

    for n, email in enumerate((emails[0], emails[-1])):
        # An address of its own, so allauth's per-address login limit is not shared.
        client = Client(REMOTE_ADDR=f"10.250.0.{n + 1}")
        response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert client.session.get("_auth_user_id") == str(User.objects.get(email=email).pk)


# --- bench_setup -----------------------------------------------------------------------------


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """bench_setup(users, groups, *extra) -> the JSON document it wrote."""
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)

    def make(users: int, groups: int, *extra: str, out=None) -> dict:
        path = out or tmp_path / f"bench-{users}-{groups}-{len(extra)}.json"
        run("bench_setup", "--users", str(users), "--groups", str(groups), "--out", str(path),
            *extra)
        return json.loads(path.read_text())

    return make


def client_with(cookie: str) -> Client:
    name, _, value = cookie.partition("=")
    client = Client()
    client.cookies[name] = value
    return client


def test_bench_setup_writes_the_contract_shape(bench):
    document = bench(10, 3)

    assert set(document) == {"base_url", "groups", "users"}
    assert document["base_url"] == "http://127.0.0.1:8000"
    assert document["groups"] == ["bench-0", "bench-1", "bench-2"]
    users = document["users"]
    assert len(users) == 10
    for user in users:
        assert set(user) == {"id", "group", "cookie"}
        assert isinstance(user["id"], int)
        assert user["cookie"].startswith("sessionid=")
        assert len(user["cookie"]) > len("sessionid=")
    assert [u["group"] for u in users] == ["bench-0"] * 4 + ["bench-1"] * 3 + ["bench-2"] * 3
    assert len({u["id"] for u in users}) == 10
    assert len({u["cookie"] for u in users}) == 10


def test_bench_groups_are_active_approval_groups(bench):
    bench(4, 2)
    groups = Group.objects.filter(slug__in=["bench-0", "bench-1"])
    assert groups.count() == 2
    for group in groups:
        assert group.privacy == Group.Privacy.APPROVAL
        assert group.status == Group.Status.ACTIVE


def test_bench_cookie_logs_in_as_a_member_of_that_group_only(bench):
    document = bench(10, 3)
    first = document["users"][0]
    assert first["group"] == "bench-0"
    client = client_with(first["cookie"])

    assert client.get("/groups/bench-0/members/").status_code == 200
    assert client.get("/groups/bench-1/members/").status_code == 404
    assert client.session.get("_auth_user_id") == str(first["id"])

    # Every cookie is somebody: a member of their own group.
    last = document["users"][-1]
    assert client_with(last["cookie"]).get("/groups/bench-2/members/").status_code == 200
    assert client_with(last["cookie"]).get("/groups/bench-0/members/").status_code == 404


def test_bench_users_are_verified_established_members_of_exactly_one_group(bench):
    document = bench(10, 3)
    weeks_ago = timezone.now() - timedelta(weeks=2)
    for entry in document["users"]:
        user = User.objects.get(pk=entry["id"])
        assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
        rows = list(Membership.objects.filter(user=user).select_related("group"))
        assert len(rows) == 1
        row = rows[0]
        assert row.group.slug == entry["group"]
        assert (row.status, row.role) == (Membership.Status.APPROVED, Membership.Role.MEMBER)
        assert row.joined_at is not None and row.joined_at <= weeks_ago
        assert user.date_joined <= weeks_ago


def test_bench_prefix_and_base_url_are_honoured(bench):
    document = bench(3, 2, "--prefix", "load-", "--base-url", "http://bench.example:9000")
    assert document["base_url"] == "http://bench.example:9000"
    assert document["groups"] == ["load-0", "load-1"]
    assert [u["group"] for u in document["users"]] == ["load-0", "load-0", "load-1"]
    assert not Group.objects.filter(slug__startswith="bench-").exists()
    member = document["users"][-1]
    assert client_with(member["cookie"]).get("/groups/load-1/members/").status_code == 200


def test_bench_base_url_follows_host_and_port(bench, monkeypatch):
    monkeypatch.setenv("HOST", "10.1.2.3")
    monkeypatch.setenv("PORT", "9001")
    assert bench(1, 1)["base_url"] == "http://10.1.2.3:9001"


def test_bench_rerun_with_the_same_prefix_replaces_the_data(bench, tmp_path):
    old = bench(6, 3, out=tmp_path / "one.json")
    others = bench(2, 1, "--prefix", "other-", out=tmp_path / "other.json")
    new = bench(4, 2, out=tmp_path / "two.json")

    assert new["groups"] == ["bench-0", "bench-1"]
    assert Group.objects.filter(slug__startswith="bench-").count() == 2
    bench_members = Membership.objects.filter(group__slug__startswith="bench-",
                                              role=Membership.Role.MEMBER)
    assert bench_members.count() == 4
    assert {m.user_id for m in bench_members} == {u["id"] for u in new["users"]}
    old_ids = {u["id"] for u in old["users"]} - {u["id"] for u in new["users"]}
    assert not User.objects.filter(pk__in=old_ids).exists()
    assert not Group.objects.filter(slug="bench-2").exists()
    # Old cookies no longer let anyone in (even if a new account reused an old id); new
    # ones do.
    for entry in old["users"]:
        client = client_with(entry["cookie"])
        for slug in new["groups"]:
            assert client.get(f"/groups/{slug}/members/").status_code in (302, 404)
    fresh = new["users"][0]
    assert client_with(fresh["cookie"]).get("/groups/bench-0/members/").status_code == 200
    # Another prefix's bench data is left alone.
    assert Group.objects.filter(slug="other-0").exists()
    assert User.objects.filter(pk=others["users"][0]["id"]).exists()


def test_bench_slugs_sort_numerically_past_ten(bench):
    document = bench(12, 11)
    expected = [f"bench-{i}" for i in range(11)]
    assert document["groups"] == expected
    assert [u["group"] for u in document["users"]] == ["bench-0", *expected]
