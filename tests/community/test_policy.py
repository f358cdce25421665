"""community/policy.py: every standing x every privacy x every check, written out in full.

The expected tables come from CONTRACT.md's "Who sees what" and these house rules: muted
members read but cannot post; moderators, owners and site staff moderate; only owners
and staff manage roles; welcomers and up welcome; signed-in outsiders, declined people
and ex-members may ask to join open and approval groups; banned people get a refusal at
the home of open and approval groups and 404 for invite-only ones; site staff who are not
members see the public home of every group (invite-only too) but cannot read content.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from community import policy
from community.models import Group
from tests.community.conftest import ACTIVE_KEYS, WORLD_GROUPS
from tests.conftest import ROLES, add_membership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

OPEN, APPROVAL, INVITE = "open", "approval", "invite"

FULL = policy.HomeView.FULL
PUB = policy.HomeView.PUBLIC
REF = policy.HomeView.REFUSED
NF = policy.HomeView.NOT_FOUND

ALLOW = policy.ContentAccess.ALLOW
LOGIN = policy.ContentAccess.LOGIN
JOIN = policy.ContentAccess.JOIN_FIRST
NOPE = policy.ContentAccess.NOT_FOUND

T, F = True, False


def row(*values) -> dict:
    """One table row, in the order of ROLES (see the header comment above each table)."""
    assert len(values) == len(ROLES), values
    return dict(zip(ROLES, values, strict=True))


# Column order of every row below:
#     anon  outsdr pendng declnd member muted  welcmr modrtr owner  banned ex_mem staff
EXPECTED = {
    "home_view": {
        OPEN: row(PUB, PUB, PUB, PUB, FULL, FULL, FULL, FULL, FULL, REF, PUB, PUB),
        APPROVAL: row(PUB, PUB, PUB, PUB, FULL, FULL, FULL, FULL, FULL, REF, PUB, PUB),
        INVITE: row(NF, NF, NF, NF, FULL, FULL, FULL, FULL, FULL, NF, NF, PUB),
    },
    "content_access": {
        OPEN: row(LOGIN, JOIN, JOIN, JOIN, ALLOW, ALLOW, ALLOW, ALLOW, ALLOW, NOPE, JOIN, JOIN),
        APPROVAL: row(LOGIN, NOPE, NOPE, NOPE, ALLOW, ALLOW, ALLOW, ALLOW, ALLOW, NOPE, NOPE,
                      NOPE),
        INVITE: row(NOPE, NOPE, NOPE, NOPE, ALLOW, ALLOW, ALLOW, ALLOW, ALLOW, NOPE, NOPE, NOPE),
    },
    "can_view_group": {
        OPEN: row(T, T, T, T, T, T, T, T, T, T, T, T),
        APPROVAL: row(T, T, T, T, T, T, T, T, T, T, T, T),
        INVITE: row(F, F, F, F, T, T, T, T, T, F, F, T),
    },
    "can_read_content": {
        OPEN: row(F, F, F, F, T, T, T, T, T, F, F, F),
        APPROVAL: row(F, F, F, F, T, T, T, T, T, F, F, F),
        INVITE: row(F, F, F, F, T, T, T, T, T, F, F, F),
    },
    "can_post": {
        OPEN: row(F, F, F, F, T, F, T, T, T, F, F, F),
        APPROVAL: row(F, F, F, F, T, F, T, T, T, F, F, F),
        INVITE: row(F, F, F, F, T, F, T, T, T, F, F, F),
    },
    "can_moderate": {
        OPEN: row(F, F, F, F, F, F, F, T, T, F, F, T),
        APPROVAL: row(F, F, F, F, F, F, F, T, T, F, F, T),
        INVITE: row(F, F, F, F, F, F, F, T, T, F, F, T),
    },
    "can_approve_requests": {
        OPEN: row(F, F, F, F, F, F, F, T, T, F, F, T),
        APPROVAL: row(F, F, F, F, F, F, F, T, T, F, F, T),
        INVITE: row(F, F, F, F, F, F, F, T, T, F, F, T),
    },
    "can_create_invites": {
        OPEN: row(F, F, F, F, F, F, F, T, T, F, F, T),
        APPROVAL: row(F, F, F, F, F, F, F, T, T, F, F, T),
        INVITE: row(F, F, F, F, F, F, F, T, T, F, F, T),
    },
    "can_manage_roles": {
        OPEN: row(F, F, F, F, F, F, F, F, T, F, F, T),
        APPROVAL: row(F, F, F, F, F, F, F, F, T, F, F, T),
        INVITE: row(F, F, F, F, F, F, F, F, T, F, F, T),
    },
    "can_welcome": {
        OPEN: row(F, F, F, F, F, F, T, T, T, F, F, F),
        APPROVAL: row(F, F, F, F, F, F, T, T, T, F, F, F),
        INVITE: row(F, F, F, F, F, F, T, T, T, F, F, F),
    },
    # Staff who are not in the group are signed-in outsiders here, so they may ask too.
    "can_request_to_join": {
        OPEN: row(F, T, F, T, F, F, F, F, F, F, T, T),
        APPROVAL: row(F, T, F, T, F, F, F, F, F, F, T, T),
        INVITE: row(F, F, F, F, F, F, F, F, F, F, F, F),
    },
}

MATRIX = [
    pytest.param(action, privacy, role, id=f"{action}-{privacy}-{role}")
    for action, table in EXPECTED.items()
    for privacy in (OPEN, APPROVAL, INVITE)
    for role in ROLES
]


def test_matrix_covers_every_action_privacy_and_role():
    assert set(EXPECTED) == {
        "home_view", "content_access", "can_view_group", "can_read_content", "can_post",
        "can_moderate", "can_approve_requests", "can_create_invites", "can_manage_roles",
        "can_welcome", "can_request_to_join",
    }
    assert len(MATRIX) == 11 * 3 * len(ROLES)


def _fresh(user):
    """Drop the per-request membership cache so each check reads the database."""
    policy.forget_memberships(user)
    return user


@pytest.mark.parametrize(("action", "privacy", "role"), MATRIX)
def test_policy_matrix(world, action, privacy, role):
    user = _fresh(world.people[privacy][role])
    group = world.groups[privacy]
    assert getattr(policy, action)(user, group) == EXPECTED[action][privacy][role]


# --- standings (a check on the world itself, so matrix failures point at the policy) ------

STANDING = row(
    "anonymous", "outsider", "pending", "declined", "member", "member", "welcomer",
    "moderator", "owner", "banned", "outsider", "outsider",
)


@pytest.mark.parametrize("role", ROLES)
def test_standing_of_each_role(world, role):
    user = _fresh(world.people[APPROVAL][role])
    assert policy.standing(user, world.groups[APPROVAL]) == STANDING[role]


def test_anonymous_user_object_is_treated_like_none(world):
    for privacy in (OPEN, APPROVAL, INVITE):
        group = world.groups[privacy]
        assert policy.home_view(AnonymousUser(), group) == EXPECTED["home_view"][privacy][
            "anonymous"
        ]
        assert policy.content_access(AnonymousUser(), group) == EXPECTED["content_access"][
            privacy
        ]["anonymous"]


def test_deactivated_member_is_treated_as_anonymous(world):
    member = world.people[INVITE]["member"]
    group = world.groups[INVITE]
    assert policy.can_read_content(_fresh(member), group)
    member.is_active = False
    try:
        assert policy.home_view(_fresh(member), group) == NF
        assert not policy.can_read_content(member, group)
        assert not policy.can_post(member, group)
    finally:
        member.is_active = True
        _fresh(member)


# --- raising twins ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_require_member_and_require_moderator(world, role):
    user = _fresh(world.people[APPROVAL][role])
    group = world.groups[APPROVAL]
    for require, allowed in (
        (policy.require_member, EXPECTED["can_read_content"][APPROVAL][role]),
        (policy.require_moderator, EXPECTED["can_moderate"][APPROVAL][role]),
    ):
        if allowed:
            require(user, group)
        else:
            with pytest.raises(Http404):
                require(user, group)


# --- groups waiting for (or refused) site approval ----------------------------------------

HIDDEN_KEYS = ("pending", "declined")


def _hidden_expectations(role: str) -> tuple:
    """(home_view, content_access) for a group that is not active yet."""
    if role == "owner":  # the founder: their own group, in full
        return FULL, ALLOW
    if role == "staff":  # the team that decides: the public description only
        return PUB, NOPE
    return NF, NOPE


@pytest.mark.parametrize("key", HIDDEN_KEYS)
@pytest.mark.parametrize("role", ROLES)
def test_group_not_yet_active_is_invisible_except_to_founder_and_staff(world, key, role):
    user = _fresh(world.people[key][role])
    group = world.groups[key]
    assert group.created_by == world.people[key]["owner"]
    home, content = _hidden_expectations(role)
    assert policy.home_view(user, group) == home
    assert policy.content_access(user, group) == content
    assert policy.can_view_group(user, group) == (home != NF)
    assert not policy.can_request_to_join(user, group)
    if home == NF:
        assert not policy.can_post(user, group)
        assert not policy.can_moderate(user, group)
        with pytest.raises(Http404):
            policy.get_group_for(user, group.slug)
        with pytest.raises(Http404):
            policy.get_moderated_group(user, group.slug)
    else:
        assert policy.get_group_for(user, group.slug) == group
        assert policy.get_moderated_group(user, group.slug) == group


def test_pending_group_made_with_make_group_follows_the_same_rule(make_group, people_in):
    group = make_group(Group.Privacy.OPEN, status=Group.Status.PENDING)
    people = people_in(group)
    allowed = {"owner", "staff"}
    for role, user in people.items():
        assert policy.can_view_group(user, group) == (role in allowed), role


# --- querysets, for each role ---------------------------------------------------------------

OWN = "own"  # the one group this person has a membership row in
LISTED = {OPEN, APPROVAL}
MEMBERS = ("member", "muted", "welcomer", "moderator", "owner")

VISIBLE = {
    **{role: LISTED for role in ROLES},
    **{role: LISTED | {OWN} for role in MEMBERS},
    "staff": {OPEN, APPROVAL, INVITE},
}
MEMBER_OF = {
    **{role: set() for role in ROLES},
    **{role: {OWN} for role in MEMBERS},
}
MODERATES = {
    **{role: set() for role in ROLES},
    "moderator": {OWN},
    "owner": {OWN},
    "staff": {OPEN, APPROVAL, INVITE},
}

QUERYSETS = {
    "visible_groups": VISIBLE,
    "member_groups": MEMBER_OF,
    "moderated_groups": MODERATES,
}


def _keys_in(world, queryset) -> set[str]:
    by_pk = {world.groups[key].pk: key for key in ACTIVE_KEYS}
    return {by_pk[pk] for pk in queryset.filter(pk__in=by_pk).values_list("pk", flat=True)}


@pytest.mark.parametrize("name", list(QUERYSETS))
@pytest.mark.parametrize("privacy", ACTIVE_KEYS)
@pytest.mark.parametrize("role", ROLES)
def test_group_querysets_for_each_role(world, name, privacy, role):
    user = _fresh(world.people[privacy][role])
    expected = {privacy if key == OWN else key for key in QUERYSETS[name][role]}
    assert _keys_in(world, getattr(policy, name)(user)) == expected


def test_querysets_have_no_duplicates_for_people_in_many_groups(world, make_user):
    person = make_user()
    for key in ACTIVE_KEYS:
        add_membership(person, world.groups[key], "approved", "owner")
    for name in QUERYSETS:
        pks = list(getattr(policy, name)(person).filter(pk__in=world.group_pks)
                   .values_list("pk", flat=True))
        assert len(pks) == len(set(pks)) == 3, name


# The queryset filters must agree with the boolean checks they stand for (STYLE rule 2):
# a list page must never show a group its own page would refuse, nor hide one it shows.
AGREEMENT = {
    "visible_groups": policy.can_view_group,
    "member_groups": policy.is_member,
    "moderated_groups": policy.can_moderate,
}


# Each person in the world, once: anonymous and staff stand the same towards every group.
PEOPLE = [
    pytest.param(role, key, id=role if role in ("anonymous", "staff") else f"{role}-{key}")
    for role in ROLES
    for key in WORLD_GROUPS
    if role not in ("anonymous", "staff") or key == "open"
]


@pytest.mark.parametrize("name", list(AGREEMENT))
@pytest.mark.parametrize(("role", "key"), PEOPLE)
def test_queryset_agrees_with_its_boolean_check(world, name, key, role):
    user = _fresh(world.people[key][role])
    check = AGREEMENT[name]
    listed = set(getattr(policy, name)(user).filter(pk__in=world.group_pks)
                 .values_list("slug", flat=True))
    allowed = {group.slug for group in world.groups.values() if check(user, group)}
    assert listed == allowed


# --- acting on other members ------------------------------------------------------------------

# (actor, target) -> may the actor remove or ban the target?
ACT_ON = {
    ("moderator", "member"): T,
    ("moderator", "muted"): T,
    ("moderator", "welcomer"): T,
    ("moderator", "pending"): T,
    ("moderator", "other_moderator"): F,
    ("moderator", "owner"): F,
    ("moderator", "moderator"): F,  # themself
    ("owner", "member"): T,
    ("owner", "welcomer"): T,
    ("owner", "moderator"): T,
    ("owner", "other_owner"): T,
    ("owner", "owner"): F,  # themself
    ("staff", "member"): T,
    ("staff", "moderator"): T,
    ("staff", "owner"): T,
    ("staff", "other_owner"): T,
    ("welcomer", "member"): F,
    ("member", "muted"): F,
    ("muted", "member"): F,
    ("banned", "member"): F,
    ("outsider", "member"): F,
    ("anonymous", "member"): F,
}


@pytest.mark.parametrize(
    ("actor", "target"), [pytest.param(a, t, id=f"{a}-on-{t}") for a, t in ACT_ON]
)
def test_can_act_on_member(world, make_user, actor, target):
    group = world.groups[APPROVAL]
    rows = dict(world.memberships[APPROVAL])
    rows["other_moderator"] = add_membership(make_user(), group, "approved", "moderator")
    rows["other_owner"] = add_membership(make_user(), group, "approved", "owner")
    user = _fresh(world.people[APPROVAL][actor])
    assert policy.can_act_on_member(user, group, rows[target]) == ACT_ON[(actor, target)]


def test_moderator_of_another_group_cannot_act(world):
    moderator = _fresh(world.people[OPEN]["moderator"])
    target = world.memberships[APPROVAL]["member"]
    assert not policy.can_act_on_member(moderator, world.groups[APPROVAL], target)
    assert policy.can_act_on_member(
        moderator, world.groups[OPEN], world.memberships[OPEN]["member"]
    )


# --- finding a group by slug ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_get_group_for_gives_the_same_404_for_missing_and_hidden(world, role):
    user = _fresh(world.people[INVITE][role])
    with pytest.raises(Http404) as missing:
        policy.get_group_for(user, "no-such-group-anywhere")
    if EXPECTED["can_view_group"][INVITE][role]:
        assert policy.get_group_for(user, world.groups[INVITE].slug) == world.groups[INVITE]
    else:
        with pytest.raises(Http404) as hidden:
            policy.get_group_for(user, world.groups[INVITE].slug)
        assert str(hidden.value) == str(missing.value)


@pytest.mark.parametrize("privacy", ACTIVE_KEYS)
@pytest.mark.parametrize("role", ROLES)
def test_get_moderated_group_gives_the_same_404_for_missing_and_forbidden(world, privacy, role):
    user = _fresh(world.people[privacy][role])
    group = world.groups[privacy]
    with pytest.raises(Http404) as missing:
        policy.get_moderated_group(user, "no-such-group-anywhere")
    if EXPECTED["can_moderate"][privacy][role]:
        assert policy.get_moderated_group(user, group.slug) == group
    else:
        with pytest.raises(Http404) as forbidden:
            policy.get_moderated_group(user, group.slug)
        assert str(forbidden.value) == str(missing.value)


# --- profiles ------------------------------------------------------------------------------


def test_people_who_share_a_group_see_each_other(make_group, make_user):
    group = make_group(Group.Privacy.INVITE)
    alice, bea, stranger = make_user(), make_user(), make_user()
    add_membership(alice, group, "approved")
    add_membership(bea, group, "approved")
    assert policy.can_view_profile(alice, bea)
    assert policy.can_view_profile(bea, alice)
    assert not policy.can_view_profile(stranger, alice)
    assert not policy.can_view_profile(alice, stranger)


def test_members_of_different_groups_cannot_see_each_other(make_group, make_user):
    one, two = make_group(Group.Privacy.OPEN), make_group(Group.Privacy.OPEN)
    alice, bea = make_user(), make_user()
    add_membership(alice, one, "approved")
    add_membership(bea, two, "approved")
    assert not policy.can_view_profile(alice, bea)
    assert policy.can_view_profile(alice, one.created_by)


@pytest.mark.parametrize("status", ["pending", "declined", "banned", "left", "removed"])
def test_not_sharing_unless_both_are_approved_members(make_group, make_user, status):
    group = make_group(Group.Privacy.APPROVAL)
    member, other = make_user(), make_user()
    add_membership(member, group, "approved")
    add_membership(other, group, status)
    assert not policy.can_view_profile(other, member)
    assert not policy.can_view_profile(member, other)
    assert policy.can_view_profile(member, group.created_by)


def test_sharing_a_group_that_is_not_active_does_not_count(make_group, make_user):
    group = make_group(Group.Privacy.APPROVAL, status=Group.Status.PENDING)
    member = make_user()
    add_membership(member, group, "approved")
    assert not policy.can_view_profile(group.created_by, member)


def test_profile_seen_by_self_and_staff_but_not_anonymous(make_user):
    person, staff = make_user(), make_user(staff=True)
    assert policy.can_view_profile(person, person)
    assert policy.can_view_profile(staff, person)
    assert not policy.can_view_profile(None, person)
    assert not policy.can_view_profile(AnonymousUser(), person)
