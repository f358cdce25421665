"""Every change to the forums: threads, replies, edits, deletions, reactions, follows,
categories, pins and locks. Each checks the policy, writes in one transaction, audits
moderator acts and tells people after commit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from community import abuse, policy
from community.models import Group, Notification, User
from community.services.chat import mentioned_members
from community.services.notifications import notify
from community.text import render_markdown, strip_controls
from forums.models import (
    TREE_KEY_WIDTH,
    Category,
    Post,
    PostRevision,
    Reaction,
    Thread,
    ThreadFollow,
)
from forums.search import refresh_documents
from moderation import items as item_kinds
from moderation import screening
from moderation.models import AuditEntry, Case
from moderation.services import record_audit
from moderation.services.screened import open_screening_case
from moderation.signposting import Outcome, outcome_for

MAX_TITLE = 150
MAX_BODY = 20000
MAX_WARNING = 100
MAX_TREE_DEPTH = 20  # deeper replies attach to their ancestor at this depth

DEFAULT_CATEGORIES = (
    ("Introductions", "Say hello and tell us a little about yourself."),
    ("Living with it", "Day-to-day life, good days and hard ones."),
    ("Treatments and appointments", "Experiences of care. We share experience, "
     "not medical advice."),
    ("Off topic", "Anything else."),
)


def create_default_categories(group: Group) -> None:
    Category.objects.bulk_create(
        Category(group=group, name=name, description=text, position=i)
        for i, (name, text) in enumerate(DEFAULT_CATEGORIES)
    )


def _clean_text(*, title: str | None = None, body: str, warning: str) -> dict:
    errors: dict[str, str] = {}
    cleaned = {"body": strip_controls(body or "").strip(),
               "warning": " ".join(strip_controls(warning or "").split())}
    if title is not None:
        cleaned["title"] = " ".join((title or "").split())
        if not cleaned["title"]:
            errors["title"] = "Please give your thread a title."
        elif len(cleaned["title"]) > MAX_TITLE:
            errors["title"] = f"Please keep the title to {MAX_TITLE} characters or fewer."
    if not cleaned["body"]:
        errors["body"] = "Please write something before posting."
    elif len(cleaned["body"]) > MAX_BODY:
        errors["body"] = (f"Posts can be up to {MAX_BODY} characters. This one has "
                          f"{len(cleaned['body'])}.")
    if len(cleaned["warning"]) > MAX_WARNING:
        errors["content_warning"] = f"Please keep the warning to {MAX_WARNING} characters."
    if errors:
        raise ValidationError(errors)
    return cleaned


def thread_url(thread: Thread, post: Post | None = None) -> str:
    url = reverse("forums:thread", kwargs={"slug": thread.group.slug, "thread_id": thread.pk})
    return f"{url}?post={post.pk}#post-{post.pk}" if post else url


def _follow(user: User, thread: Thread, *, read: bool = True) -> None:
    now = timezone.now() if read else None
    follow, created = ThreadFollow.objects.get_or_create(
        thread=thread, user=user, defaults={"following": True, "last_read_at": now}
    )
    if not created:
        ThreadFollow.objects.filter(pk=follow.pk).update(following=True, last_read_at=now)


def _notify_about_post(actor: User, thread: Thread, post: Post) -> None:
    """Replies to your post, replies in threads you follow, and @mentions: each person once."""
    url = thread_url(thread, post)
    told: set[int] = {actor.pk}
    for person in mentioned_members(thread.group, actor, post.body):
        told.add(person.pk)
        notify(user=person, kind=Notification.Kind.FORUM_MENTION, group=thread.group,
               text=f"{actor.display_name} mentioned you in “{thread.title}”.", url=url,
               email_subject=f"You were mentioned in {thread.group.name}",
               email_body=f"{actor.display_name} mentioned you in “{thread.title}”.",
               activity=True)
    parent_author_id = post.parent.author_id if post.parent_id else None
    followers = User.objects.filter(
        pk__in=ThreadFollow.objects.filter(thread=thread, following=True).values("user_id")
    )
    if parent_author_id:
        followers = followers | User.objects.filter(pk=parent_author_id)
    for person in followers.distinct():
        if person.pk in told or not policy.is_member(person, thread.group):
            continue
        told.add(person.pk)
        to_you = person.pk == parent_author_id
        text = (f"{actor.display_name} replied to your post in “{thread.title}”." if to_you
                else f"{actor.display_name} replied in “{thread.title}”.")
        notify(user=person, kind=Notification.Kind.FORUM_REPLY, group=thread.group, text=text,
               url=url, email_subject=f"New reply in {thread.group.name}", email_body=text,
               activity=True)


def _check_abuse(actor: User, scope: str, text: str) -> None:
    """The abuse controls for forum writing, in one place: a new account's first posts
    carry no links, and threads ("thread") and replies ("post") are rate limited per
    person (community/abuse.py; numbers in KINDRED_RATE_LIMITS). Raises a ValidationError
    (RateLimited is status 429), so the form comes back with the words in it."""
    abuse.check_links(user=actor, text=text, scope=scope)
    if scope != "edit":
        abuse.check_rate(scope, user=actor)


def _screened(group: Group, text: str, *, confirm: bool) -> Outcome:
    """Screen before storing: may raise ScreeningPrompt or ScreeningBlocked (nothing is
    stored and the writer keeps their words)."""
    return outcome_for(screening.screen(text, group), group, confirm=confirm)


def _open_case(kind: str, obj, group: Group, actor: User, outcome: Outcome) -> None:
    if outcome.needs_case:
        open_screening_case(item=item_kinds.Item(kind, obj, group, actor),
                            verdict=outcome.verdict, held=outcome.held)


def start_thread(*, actor: User, group: Group, category: Category, title: str, body: str,
                 content_warning: str = "", confirm: bool = False) -> Thread:
    """Open a thread. A held thread stays out of the index until a moderator lets it in;
    `thread.outcome` says what screening decided (for the writer's help panel)."""
    if not policy.can_read_content(actor, group) or category.group_id != group.pk:
        policy.require(False)
    if not policy.can_post(actor, group):
        raise ValidationError("A moderator has paused your posting in this group for now.")
    cleaned = _clean_text(title=title, body=body, warning=content_warning)
    _check_abuse(actor, "thread", f"{cleaned['title']}\n{cleaned['body']}")
    outcome = _screened(group, f"{cleaned['title']}\n{cleaned['body']}", confirm=confirm)
    html = render_markdown(cleaned["body"])
    with transaction.atomic():
        thread = Thread.objects.create(
            group=group, category=category, title=cleaned["title"], author=actor,
            status=Thread.Status.HIDDEN if outcome.held else Thread.Status.VISIBLE)
        post = Post.objects.create(thread=thread, group=group, author=actor, body=cleaned["body"],
                                   body_html=html, content_warning=cleaned["warning"],
                                   tree_key="")
        post.tree_key = _key(post.pk)
        Post.objects.filter(pk=post.pk).update(tree_key=post.tree_key)
        refresh_documents(Post.objects.filter(pk=post.pk))
        _follow(actor, thread)
        post.thread = thread
        if not outcome.held:
            _notify_about_post(actor, thread, post)
        _open_case(Case.Kind.THREAD, thread, group, actor, outcome)
    thread.outcome = outcome
    return thread


def _key(post_id: int) -> str:
    return str(post_id).zfill(TREE_KEY_WIDTH)


def reply(*, actor: User, thread: Thread, body: str, parent: Post | None = None,
          content_warning: str = "", confirm: bool = False) -> Post:
    """Answer the thread (its opening post) or one post in it. A held reply is hidden
    from others until a moderator lets it in; `post.outcome` says what screening did."""
    policy.require(policy.can_read_thread(actor, thread))
    if parent is not None and parent.thread_id != thread.pk:
        policy.require(False)
    if thread.locked and not policy.can_moderate(actor, thread.group):
        raise ValidationError("This thread is locked, so no new replies can be added.")
    if not policy.can_post(actor, thread.group):
        raise ValidationError("A moderator has paused your posting in this group for now.")
    cleaned = _clean_text(body=body, warning=content_warning)
    _check_abuse(actor, "post", cleaned["body"])
    outcome = _screened(thread.group, cleaned["body"], confirm=confirm)
    html = render_markdown(cleaned["body"])
    with transaction.atomic():
        if parent is None:
            parent = Post.objects.get(thread=thread, parent__isnull=True)
        post = Post.objects.create(
            thread=thread, group=thread.group, author=actor, parent=parent,
            depth=min(parent.depth + 1, MAX_TREE_DEPTH), body=cleaned["body"],
            body_html=html, content_warning=cleaned["warning"], tree_key="",
            status=Post.Status.HIDDEN if outcome.held else Post.Status.PUBLISHED,
        )
        # Past the deepest level a reply sits beside its parent (same first levels of the
        # key, then its own, later id), so keys stay bounded and it still sorts after the
        # post it answers; the page says which post that was.
        prefix = Post.objects.values_list("tree_key", flat=True).get(pk=parent.pk)
        post.tree_key = prefix[: MAX_TREE_DEPTH * TREE_KEY_WIDTH] + _key(post.pk)
        Post.objects.filter(pk=post.pk).update(tree_key=post.tree_key)
        refresh_documents(Post.objects.filter(pk=post.pk))
        now = timezone.now()
        Thread.objects.filter(pk=thread.pk).update(reply_count=F("reply_count") + 1,
                                                   last_post_at=now)
        _follow(actor, thread)
        post.parent = parent
        if not outcome.held:
            _notify_about_post(actor, thread, post)
        _open_case(Case.Kind.POST, post, thread.group, actor, outcome)
    post.outcome = outcome
    return post


def edit_post(*, actor: User, post: Post, body: str, content_warning: str = "",
              confirm: bool = False, title: str = "") -> Post:
    """Change a post (screened like a new one: an edit can't slip past the rules)."""
    if not policy.can_edit_post(actor, post):
        raise ValidationError("This post can no longer be edited.")
    cleaned = _clean_text(body=body, warning=content_warning)
    _check_abuse(actor, "edit", f"{title}\n{cleaned['body']}")
    outcome = _screened(post.group, f"{title}\n{cleaned['body']}".strip(), confirm=confirm)
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        PostRevision.objects.create(post=post, body=post.body,
                                    content_warning=post.content_warning)
        post.body = cleaned["body"]
        post.body_html = render_markdown(cleaned["body"])
        post.content_warning = cleaned["warning"]
        post.edited_at = timezone.now()
        if outcome.held:
            post.status = Post.Status.HIDDEN
        post.save(update_fields=["body", "body_html", "content_warning", "edited_at",
                                 "status"])
        refresh_documents(Post.objects.filter(pk=post.pk))
        _open_case(Case.Kind.POST, post, post.group, actor, outcome)
    post.outcome = outcome
    return post


def edit_thread_title(*, actor: User, thread: Thread, title: str) -> Thread:
    opening = Post.objects.get(thread=thread, parent__isnull=True)
    if not (policy.can_edit_post(actor, opening) or policy.can_moderate(actor, thread.group)):
        raise ValidationError("This title can no longer be changed.")
    cleaned = _clean_text(title=title, body="-", warning="")
    with transaction.atomic():
        Thread.objects.filter(pk=thread.pk).update(title=cleaned["title"])
        refresh_documents(Post.objects.filter(pk=opening.pk))  # the title is in its document
    thread.title = cleaned["title"]
    return thread


def delete_post(*, actor: User, post: Post) -> Post:
    """The author takes their words back; replies stay, under "deleted by author"."""
    if not policy.can_delete_post(actor, post):
        policy.require(False)
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=post.pk)
        PostRevision.objects.create(post=post, body=post.body,
                                    content_warning=post.content_warning)
        post.deleted_at = timezone.now()
        post.body = ""
        post.body_html = ""
        post.content_warning = ""
        post.save(update_fields=["deleted_at", "body", "body_html", "content_warning"])
        refresh_documents(Post.objects.filter(pk=post.pk))  # the words are gone from search too
        Reaction.objects.filter(post=post).delete()
    return post


def toggle_reaction(*, actor: User, post: Post, kind: str) -> bool:
    """Add the reaction, or take it back if already given; returns whether it is now on."""
    policy.require(policy.can_read_thread(actor, post.thread) and post.status == "published"
                   and not post.is_deleted)
    if kind not in Reaction.Kind.values:
        named = [f"“{label}”" for label in Reaction.Kind.labels]
        raise ValidationError({"kind": "Please choose one of the reactions. Press "
                               f"{', '.join(named[:-1])} or {named[-1]} under the post."})
    if not policy.can_post(actor, post.group):
        raise ValidationError("A moderator has paused your posting in this group for now.")
    deleted, _ = Reaction.objects.filter(post=post, user=actor, kind=kind).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            Reaction.objects.create(post=post, user=actor, kind=kind)
    except IntegrityError:  # a double click raced us; it is on either way
        pass
    return True


def set_following(*, actor: User, thread: Thread, following: bool) -> None:
    policy.require(policy.can_read_thread(actor, thread))
    ThreadFollow.objects.update_or_create(thread=thread, user=actor,
                                          defaults={"following": following})


def mark_read(*, actor: User, thread: Thread) -> None:
    policy.require(policy.can_read_thread(actor, thread))
    ThreadFollow.objects.update_or_create(
        thread=thread, user=actor, defaults={"last_read_at": timezone.now()},
        create_defaults={"following": False, "last_read_at": timezone.now()},
    )


def _moderate_thread(*, actor: User, thread: Thread, field: str, value: bool,
                     reason: str) -> Thread:
    policy.require(policy.can_moderate(actor, thread.group))
    with transaction.atomic():
        if getattr(thread, field) == value:
            return thread
        Thread.objects.filter(pk=thread.pk).update(**{field: value})
        setattr(thread, field, value)
        action = {"pinned": AuditEntry.Action.THREAD_PINNED,
                  "locked": AuditEntry.Action.THREAD_LOCKED}[field]
        record_audit(action=action, actor=actor, group=thread.group,
                     target_user=thread.author, reason=strip_controls(reason).strip(),
                     detail={"thread_id": thread.pk, "value": value})
    return thread


def set_pinned(*, actor: User, thread: Thread, pinned: bool, reason: str = "") -> Thread:
    return _moderate_thread(actor=actor, thread=thread, field="pinned", value=pinned,
                            reason=reason)


def set_locked(*, actor: User, thread: Thread, locked: bool, reason: str = "") -> Thread:
    return _moderate_thread(actor=actor, thread=thread, field="locked", value=locked,
                            reason=reason)


def save_category(*, actor: User, group: Group, name: str, description: str = "",
                  category: Category | None = None) -> Category:
    """Founders and moderators add or rename categories."""
    policy.require(policy.can_moderate(actor, group))
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise ValidationError({"name": "Please give the category a name of up to 60 "
                               "characters."})
    clash = Category.objects.filter(group=group, name__iexact=name)
    if category is not None:
        clash = clash.exclude(pk=category.pk)
    if clash.exists():
        raise ValidationError({"name": "There is already a category with that name."})
    with transaction.atomic():
        if category is None:
            position = Category.objects.filter(group=group).count()
            category = Category.objects.create(group=group, name=name,
                                               description=description.strip()[:200],
                                               position=position)
        else:
            policy.require(category.group_id == group.pk)
            category.name = name
            category.description = description.strip()[:200]
            category.save(update_fields=["name", "description"])
        record_audit(action=AuditEntry.Action.CATEGORY_SAVED, actor=actor, group=group,
                     detail={"category_id": category.pk, "name": name})
    return category
