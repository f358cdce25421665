"""Forum search: within one group and across every group a person may read.

`forums.selectors.search_posts` asks the policy which groups a person may read, and never
returns hidden, removed or deleted posts, or posts of hidden or removed threads. On
PostgreSQL results are ranked full-text matches (English stemming, title above body) with
snippets; elsewhere a plain contains-match. Snippets reach the page only through
`highlight`, which escapes everything but the <mark> around matches.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from community import realtime
from community.models import Group, Membership
from forums import services
from forums.models import Category, Post, Thread
from forums.selectors import (
    MARK_START,
    MARK_STOP,
    SearchPaginator,
    highlight,
    plain_snippet,
    search_posts,
)
from tests.conftest import add_membership

on_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="ranked full-text search runs on PostgreSQL only "
                              "(set DATABASE_URL=postgres://...)"),
]

NOT_READERS = ("outsider", "pending", "declined", "banned", "ex_member")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)


def category_of(group: Group) -> Category:
    category = Category.objects.filter(group=group).first()
    if category is None:
        services.create_default_categories(group)
        category = Category.objects.filter(group=group).first()
    return category


def start(author, group, title, body) -> Thread:
    return services.start_thread(actor=author, group=group, category=category_of(group),
                                 title=title, body=body)


def opening(thread: Thread) -> Post:
    return Post.objects.get(thread=thread, parent__isnull=True)


def ids(results) -> set[int]:
    return {post.pk for post in results}


class Library:
    """Two groups with posts about the same things; a reader in both, others in one."""

    def __init__(self, make_group, people_in, make_user):
        self.kidney = make_group(Group.Privacy.APPROVAL, name="Kidney Friends")
        self.people = people_in(self.kidney)
        self.other = make_group(Group.Privacy.INVITE, name="Second Circle")
        self.other_owner = self.other.memberships.get(role="owner").user
        self.reader = make_user("Reader Both")
        add_membership(self.reader, self.kidney, "approved")
        add_membership(self.reader, self.other, "approved")
        author = self.people["member"]
        self.title_thread = start(author, self.kidney, "Dialysis at home",
                                  "Has anyone tried the machines?")
        self.body_thread = start(author, self.kidney, "Weekend plans",
                                 "Three dialysis sessions a week at the clinic.")
        self.title_post = opening(self.title_thread)
        self.body_post = opening(self.body_thread)
        self.reply = services.reply(actor=self.people["welcomer"], thread=self.body_thread,
                                    body="The clinic staff are lovely.")
        self.other_thread = start(self.other_owner, self.other, "Dialysis elsewhere",
                                  "Dialysis clinic talk in the second circle.")
        self.other_post = opening(self.other_thread)


@pytest.fixture
def lib(make_group, people_in, make_user) -> Library:
    return Library(make_group, people_in, make_user)


# --- finding ------------------------------------------------------------------------------------


def test_group_search_finds_posts_by_title_words_and_body_words(lib):
    member = lib.people["member"]
    found = ids(search_posts(member, "dialysis", group=lib.kidney))
    assert {lib.title_post.pk, lib.body_post.pk} <= found
    assert lib.other_post.pk not in found

    assert ids(search_posts(member, "clinic", group=lib.kidney)) == {
        lib.body_post.pk, lib.reply.pk}
    assert ids(search_posts(member, "machines", group=lib.kidney)) == {lib.title_post.pk}
    assert ids(search_posts(member, "zebra", group=lib.kidney)) == set()


def test_every_word_must_match(lib):
    member = lib.people["member"]
    assert ids(search_posts(member, "dialysis machines", group=lib.kidney)) == {
        lib.title_post.pk}
    assert ids(search_posts(member, "clinic lovely", group=lib.kidney)) == {lib.reply.pk}


def test_a_post_with_none_of_the_words_is_never_a_result(lib):
    member = lib.people["member"]
    assert list(search_posts(member, "zebra giraffe", group=lib.kidney)) == []
    assert list(search_posts(lib.reader, "zebra giraffe")) == []
    # one word matching is not enough either
    assert lib.reply.pk not in ids(search_posts(member, "dialysis lovely", group=lib.kidney))


def test_site_search_covers_every_group_the_person_reads(lib):
    found = ids(search_posts(lib.reader, "dialysis"))
    assert {lib.title_post.pk, lib.body_post.pk, lib.other_post.pk} <= found
    in_kidney = ids(search_posts(lib.reader, "dialysis", group=lib.kidney))
    assert lib.other_post.pk not in in_kidney and lib.title_post.pk in in_kidney


def test_site_search_for_a_member_of_one_group_stays_in_that_group(lib):
    found = list(search_posts(lib.people["member"], "dialysis"))
    assert found and {post.group_id for post in found} == {lib.kidney.pk}


def test_results_carry_their_thread_group_and_author_in_one_query(
    lib, django_assert_num_queries,
):
    with django_assert_num_queries(1):  # the readable groups are a subquery
        results = list(search_posts(lib.reader, "dialysis"))
        for post in results:
            assert post.thread.title and post.group.slug and post.author.display_name
    assert len(results) == 3


# --- never from groups you cannot read -------------------------------------------------------


@pytest.mark.parametrize("role", NOT_READERS)
def test_people_outside_a_group_never_see_its_posts(lib, role):
    person = lib.people[role]
    assert list(search_posts(person, "dialysis")) == []
    assert list(search_posts(person, "dialysis", group=lib.kidney)) == []
    assert list(search_posts(person, "clinic", group=lib.kidney)) == []


def test_anonymous_people_find_nothing(lib):
    assert list(search_posts(AnonymousUser(), "dialysis")) == []
    assert list(search_posts(AnonymousUser(), "dialysis", group=lib.kidney)) == []


def test_a_member_who_leaves_stops_finding_the_groups_posts(lib):
    member = lib.people["welcomer"]
    assert ids(search_posts(member, "clinic"))
    Membership.objects.filter(user=member, group=lib.kidney).update(
        status=Membership.Status.LEFT)
    assert list(search_posts(member, "clinic")) == []


def test_asking_for_another_groups_results_gives_nothing(lib):
    """The group argument narrows; it never widens what the policy allows."""
    assert list(search_posts(lib.people["member"], "dialysis", group=lib.other)) == []


def test_groups_waiting_for_site_approval_are_not_searched_by_their_members(lib):
    Group.objects.filter(pk=lib.other.pk).update(status=Group.Status.PENDING)
    found = ids(search_posts(lib.reader, "dialysis"))
    assert lib.other_post.pk not in found and lib.title_post.pk in found


# --- never hidden, removed or deleted ----------------------------------------------------------


@pytest.mark.parametrize("status", [Post.Status.HIDDEN, Post.Status.REMOVED])
def test_hidden_and_removed_posts_are_never_found(lib, status):
    Post.objects.filter(pk=lib.reply.pk).update(status=status)
    for person in (lib.people["member"], lib.people["welcomer"], lib.people["moderator"],
                   lib.people["owner"]):  # not even by their author or a moderator
        assert lib.reply.pk not in ids(search_posts(person, "clinic"))
        assert lib.reply.pk not in ids(search_posts(person, "lovely", group=lib.kidney))
    assert lib.body_post.pk in ids(search_posts(lib.people["member"], "clinic"))


def test_deleted_posts_are_never_found_even_by_their_threads_title(lib):
    services.delete_post(actor=lib.people["welcomer"], post=lib.reply)
    found = ids(search_posts(lib.people["member"], "weekend"))
    assert lib.reply.pk not in found and lib.body_post.pk in found
    assert list(search_posts(lib.people["member"], "lovely")) == []


@pytest.mark.parametrize("status", [Thread.Status.HIDDEN, Thread.Status.REMOVED])
def test_posts_of_hidden_and_removed_threads_are_never_found(lib, status):
    Thread.objects.filter(pk=lib.body_thread.pk).update(status=status)
    for person in (lib.people["member"], lib.people["moderator"], lib.reader):
        found = ids(search_posts(person, "clinic"))
        assert lib.body_post.pk not in found and lib.reply.pk not in found
        assert ids(search_posts(person, "weekend")) == set()
    assert lib.title_post.pk in ids(search_posts(lib.people["member"], "dialysis"))


# --- snippets ------------------------------------------------------------------------------------


def snippet_html(post, query: str) -> str:
    """What the search page shows: the database's snippet or the plain one, highlighted."""
    snippet = getattr(post, "snippet", None) or plain_snippet(post.body, query.split())
    return highlight(snippet)


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def test_highlight_escapes_everything_but_the_marks():
    body = '<script>alert("x")</script> Dialysis & <b>me</b>'
    html = highlight(plain_snippet(body, ["dialysis"]))
    assert html == ("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>Dialysis</mark> "
                    "&amp; &lt;b&gt;me&lt;/b&gt;")


def test_plain_snippets_mark_every_term_and_trim_long_bodies():
    body = ("word " * 60) + "the dialysis unit " + ("more " * 60)
    snippet = plain_snippet(body, ["dialysis", "unit"])
    assert snippet.startswith("…") and snippet.endswith("…")
    html = highlight(snippet)
    assert marked(html) == ["dialysis", "unit"]
    assert len(snippet) < len(body)


def test_plain_snippets_treat_terms_as_text_not_patterns():
    html = highlight(plain_snippet("costs (a lot) .* really", ["(a", ".*"]))
    assert marked(html) == ["(a", ".*"]


def test_search_results_show_script_as_text_with_marks_only_round_the_match(lib):
    member = lib.people["member"]
    thread = start(member, lib.kidney, "Odd characters",
                   "<script>alert(1)</script> my dialysis <img src=x onerror=alert(1)> notes")
    post = opening(thread)
    [found] = [p for p in search_posts(member, "dialysis", group=lib.kidney)
               if p.pk == post.pk]
    html = snippet_html(found, "dialysis")
    assert "<script" not in html and "<img" not in html
    # The plain snippet keeps the text as typed, escaped; PostgreSQL's headline parser may
    # drop what it reads as tags. Either way whatever is left is text, not markup.
    assert "&lt;script&gt;" in html or connection.vendor == "postgresql"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert [m.lower() for m in marked(html)] == ["dialysis"]
    assert re.sub(r"</?mark>", "", html).count("<") == 0


def test_characters_used_as_match_markers_cannot_be_smuggled_in_a_post(lib):
    """The markers are "never typed by people", but a post can hold any character: a body
    carrying them must not put <mark> tags anywhere but round a real match."""
    member = lib.people["member"]
    body = f"{MARK_START}not a match{MARK_STOP} and {MARK_START}dialysis {MARK_START}here"
    thread = start(member, lib.kidney, "Control characters", body)
    post = opening(thread)
    [found] = [p for p in search_posts(member, "dialysis", group=lib.kidney)
               if p.pk == post.pk]
    html = snippet_html(found, "dialysis")
    assert html.count("<mark>") == html.count("</mark>") == 1, html
    assert [m.lower() for m in marked(html)] == ["dialysis"]


# --- PostgreSQL: ranking, stemming, snippets -----------------------------------------------------


def test_fallback_search_is_a_case_insensitive_contains_match(lib):
    """The contains-match used where there is no full-text search (forced, so it runs on
    every database)."""
    member = lib.people["member"]

    def find(query):
        return ids(search_posts(member, query, group=lib.kidney, full_text=False))

    expected = find("dialysis")
    assert expected == {lib.title_post.pk, lib.body_post.pk}
    assert find("DiAlYsIs") == expected
    assert find("dialys") == expected


def pg(test):
    """PostgreSQL only: marked `postgres`, skipped with a reason elsewhere."""
    for mark in reversed(on_postgres):
        test = mark(test)
    return test


@pg
def test_title_matches_rank_above_body_only_matches(lib):
    results = list(search_posts(lib.people["member"], "dialysis", group=lib.kidney))
    order = [post.pk for post in results]
    assert order.index(lib.title_post.pk) < order.index(lib.body_post.pk)
    assert all(hasattr(post, "rank") for post in results)
    ranks = [post.rank for post in results]
    assert ranks == sorted(ranks, reverse=True)


@pg
def test_title_and_body_match_ranks_above_a_title_only_match(lib):
    member = lib.people["member"]
    both = start(member, lib.kidney, "Dialysis diet", "What do you eat before dialysis?")
    order = [p.pk for p in search_posts(member, "dialysis", group=lib.kidney)]
    assert order.index(opening(both).pk) < order.index(lib.title_post.pk)
    assert order.index(lib.title_post.pk) < order.index(lib.body_post.pk)


@pg
def test_english_stemming_and_case_folding(lib):
    member = lib.people["member"]
    runner = start(member, lib.kidney, "Exercise", "I still run twice a week.")
    runner_post = opening(runner)
    assert runner_post.pk in ids(search_posts(member, "running", group=lib.kidney))
    assert runner_post.pk in ids(search_posts(member, "runs", group=lib.kidney))
    shouting = start(member, lib.kidney, "Capitals", "DIALYSIS DAY AGAIN")
    found = ids(search_posts(member, "dialysis", group=lib.kidney))
    assert opening(shouting).pk in found
    assert ids(search_posts(member, "Dialysis", group=lib.kidney)) == found
    assert lib.body_post.pk in ids(search_posts(member, "session", group=lib.kidney))


@pg
def test_web_search_syntax_phrases_and_exclusions(lib):
    member = lib.people["member"]
    assert ids(search_posts(member, '"dialysis sessions"', group=lib.kidney)) == {
        lib.body_post.pk}
    found = ids(search_posts(member, "dialysis -clinic", group=lib.kidney))
    assert lib.title_post.pk in found and lib.body_post.pk not in found


@pg
def test_stop_words_and_punctuation_alone_find_nothing_and_do_not_fail(lib):
    member = lib.people["member"]
    for query in ("the", "&&& |||", "'", '"', "!(", ""):
        assert list(search_posts(member, query, group=lib.kidney)) == [], query


@pg
def test_postgres_snippets_mark_the_stemmed_match_and_escape_the_rest(lib):
    member = lib.people["member"]
    thread = start(member, lib.kidney, "Feelings",
                   "Some days <b>I</b> & others struggle; running helps <script>x</script>")
    post = opening(thread)
    [found] = [p for p in search_posts(member, "run", group=lib.kidney) if p.pk == post.pk]
    assert MARK_START in found.snippet and MARK_STOP in found.snippet
    html = highlight(found.snippet)
    assert marked(html) == ["running"]
    assert "<script" not in html and "<b>" not in html
    assert re.sub(r"</?mark>", "", html).count("<") == 0


@pg
def test_site_search_ranks_across_groups(lib):
    results = list(search_posts(lib.reader, "dialysis clinic"))
    order = [post.pk for post in results]
    # the second circle's post has both words in its body and one in its title
    assert order[0] == lib.other_post.pk
    assert lib.body_post.pk in order and lib.title_post.pk not in order


# --- the stored search document: kept up to date by every write ----------------------------------
#
# On PostgreSQL search reads `Post.search_document` (filled by the services, indexed with GIN);
# on SQLite these tests exercise the contains-match. Either way an edit must change what is
# found, and the PostgreSQL-only tests below check the stored document itself.


def test_editing_a_post_changes_what_search_finds(lib):
    member = lib.people["member"]
    assert lib.body_post.pk in ids(search_posts(member, "clinic"))
    services.edit_post(actor=member, post=lib.body_post,
                       body="Two haemodialysis sessions at the hospital.")
    assert lib.body_post.pk not in ids(search_posts(member, "clinic"))
    assert lib.body_post.pk in ids(search_posts(member, "haemodialysis"))
    assert lib.body_post.pk in ids(search_posts(member, "weekend"))  # its title still counts
    assert lib.reply.pk in ids(search_posts(member, "clinic"))  # other posts are untouched


def test_renaming_a_thread_changes_what_search_finds_for_its_title(lib):
    member = lib.people["member"]
    assert lib.title_post.pk in ids(search_posts(member, "dialysis"))
    services.edit_thread_title(actor=member, thread=lib.title_thread, title="Machines at home")
    assert lib.title_post.pk not in ids(search_posts(member, "dialysis"))
    assert lib.title_post.pk in ids(search_posts(member, "home", group=lib.kidney))


def test_a_deleted_posts_words_leave_search(lib):
    services.delete_post(actor=lib.people["welcomer"], post=lib.reply)
    assert list(search_posts(lib.people["member"], "lovely")) == []
    if connection.vendor == "postgresql":
        assert stored_document(lib.reply) == ""


def stored_document(post: Post) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM forums_post WHERE id = %s",
                       [post.pk])
        return cursor.fetchone()[0]


def documents_out_of_date() -> list[int]:
    """Posts whose stored document is not what their current text gives."""
    from forums.search import DOCUMENT_SQL

    sql = (
        "SELECT p.id FROM forums_post p JOIN forums_thread t ON t.id = p.thread_id "  # noqa: S608
        f"WHERE p.search_document IS DISTINCT FROM ({DOCUMENT_SQL}) ORDER BY p.id")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


@pg
def test_every_write_through_the_services_leaves_documents_up_to_date(lib):
    member = lib.people["member"]
    assert Post.objects.filter(search_document__isnull=True).count() == 0
    assert documents_out_of_date() == []
    services.edit_post(actor=member, post=lib.body_post, body="Fresh words about kidneys.")
    services.edit_thread_title(actor=member, thread=lib.body_thread, title="Kidney weekend")
    answer = services.reply(actor=lib.people["welcomer"], thread=lib.body_thread,
                            parent=lib.reply, body="Nested kidney talk.")
    services.delete_post(actor=lib.people["welcomer"], post=lib.reply)
    assert documents_out_of_date() == []
    assert "'kidney':" in stored_document(answer)
    assert "'weekend':2A" in stored_document(lib.body_post)  # the new title, weighted A


@pg
def test_the_orm_document_and_the_sql_document_are_the_same(lib):
    """The services build documents with the ORM, the backfill and bulk loads with SQL."""
    from forums.search import document

    Post.objects.update(search_document=document())
    assert documents_out_of_date() == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM forums_post WHERE search_document = ''::tsvector")
        assert cursor.fetchone()[0] == 0  # every post here has words


@pg
def test_the_backfill_migration_fills_in_documents_of_existing_posts(lib):
    import importlib
    from types import SimpleNamespace

    migration = importlib.import_module("forums.migrations.0004_backfill_search_documents")
    Post.objects.update(search_document=None)
    assert list(search_posts(lib.reader, "dialysis")) == []  # search reads the stored column
    migration.backfill(None, SimpleNamespace(connection=connection))
    assert documents_out_of_date() == []
    assert {lib.title_post.pk, lib.body_post.pk, lib.other_post.pk} <= ids(
        search_posts(lib.reader, "dialysis"))


@pg
def test_search_filters_and_ranks_on_the_indexed_column(lib):
    sql = str(search_posts(lib.reader, "dialysis").query)
    assert '"forums_post"."search_document" @@' in sql
    assert "to_tsvector" not in sql  # nothing is computed per post at search time
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = "
                       "'post_search_document'")
        assert "USING gin (search_document)" in cursor.fetchone()[0]


# --- counting no further than the cap, and only what the person may read -----------------------


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(SearchPaginator, "cap", 2)


def test_results_are_counted_no_further_than_the_cap(lib, small_cap):
    for n in range(3):
        start(lib.people["member"], lib.kidney, f"More dialysis {n}", "Dialysis again.")
    paginator = SearchPaginator(search_posts(lib.people["member"], "dialysis"), 1)
    assert paginator.found == 3 and paginator.more  # counting stopped one past the cap
    assert paginator.count == 2 and paginator.num_pages == 2
    shown = [post.pk for n in (1, 2) for post in paginator.page(n)]
    assert shown == [post.pk for post in search_posts(lib.people["member"], "dialysis")][:2]


def test_counts_never_include_posts_the_person_may_not_read(lib, small_cap):
    """The capped count runs the same policy-filtered query: another group's posts, and
    hidden or deleted ones, never make "more than" appear."""
    for n in range(3):
        start(lib.other_owner, lib.other, f"Second circle dialysis {n}", "Dialysis there.")
    member = lib.people["member"]  # reads Kidney Friends only: two dialysis posts
    hidden = start(member, lib.kidney, "Hidden dialysis", "Dialysis hidden.")
    Post.objects.filter(thread=hidden).update(status=Post.Status.HIDDEN)
    gone = start(member, lib.kidney, "Deleted dialysis", "Dialysis deleted.")
    services.delete_post(actor=member, post=opening(gone))
    paginator = SearchPaginator(search_posts(member, "dialysis"), 20)
    assert paginator.found == 2 and not paginator.more
    assert {post.group_id for post in paginator.page(1)} == {lib.kidney.pk}
    for role in NOT_READERS:
        assert SearchPaginator(search_posts(lib.people[role], "dialysis"), 20).found == 0
    assert SearchPaginator(search_posts(lib.reader, "dialysis"), 20).more  # reads both
