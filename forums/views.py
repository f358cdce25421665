"""Forum pages. Everything works without JavaScript: previews are a second submit
button, quoting and replying to a post are links to a reply page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from community import policy
from community.text import render_markdown
from community.views.groups import add_errors, group_content, group_page_context
from forums import selectors, services
from forums.forms import CategoryForm, EditForm, ReplyForm, SearchForm, ThreadForm
from forums.models import Category, Post, Reaction, Thread
from moderation.signposting import ScreeningBlocked, ScreeningPrompt, remember_panel


def _thread(request, group, thread_id: int) -> Thread:
    thread = (
        Thread.objects.select_related("group", "category", "author")
        .filter(pk=thread_id, group=group)
        .first()
    )
    if thread is None or not policy.can_read_thread(request.user, thread):
        raise Http404("Not found")
    return thread


def _post(request, group, post_id: int) -> Post:
    post = (
        Post.objects.select_related("thread__group", "thread__category", "author", "group")
        .filter(pk=post_id, group=group)
        .first()
    )
    if post is None or not policy.can_read_thread(request.user, post.thread):
        raise Http404("Not found")
    if post.status != Post.Status.PUBLISHED and not (
        policy.can_moderate(request.user, group) or post.author_id == request.user.pk
    ):
        raise Http404("Not found")
    return post


def _preview(request, form) -> str:
    if "preview" in request.POST and form.is_valid():
        return render_markdown(form.cleaned_data["body"])
    return ""


def _compose(request, group, form, *, save, done: str, template: str, **context):
    """The one shape of every writing page: preview; or save and go to the result; or
    show the form again with what was typed and why it wasn't saved (including a
    screening prompt, answered with "Post anyway")."""
    preview = ""
    prompt = None
    refused = None  # a rate limit: the form comes back with the words and status 429
    if request.method == "POST":
        preview = _preview(request, form)
        if form.is_valid() and not preview:
            try:
                saved = save(form.cleaned_data, request.POST.get("confirm") == "1")
            except ValidationError as error:
                add_errors(form, error)
                refused = error if getattr(error, "status_code", 0) == 429 else None
            except ScreeningBlocked as blocked:
                add_errors(form, ValidationError(blocked.detail))
            except ScreeningPrompt as asked:
                prompt = asked
            else:
                url, outcome = saved
                if outcome is not None and outcome.held:
                    messages.info(request, "Thank you. What you wrote is waiting for a "
                                  "moderator to look at it before others see it.")
                else:
                    messages.success(request, done)
                if outcome is not None:
                    remember_panel(request, outcome.panel)
                return redirect(url)
    status = 400 if request.method == "POST" and form.errors else 200
    response = render(request, template, group_page_context(
        request, group, form=form, preview=preview, prompt=prompt, **context),
        status=429 if refused else status)
    if refused:
        response["Retry-After"] = str(refused.retry_after)
    return response


@group_content
def forum_index(request, group):
    category = None
    category_id = request.GET.get("category", "")
    if category_id.isdigit():
        category = Category.objects.filter(group=group, pk=int(category_id)).first()
    page = Paginator(
        selectors.thread_listing(request.user, group, category=category),
        selectors.THREADS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(request, "forums/index.html", group_page_context(
        request, group, page=page, categories=list(selectors.categories(group)),
        category=category, can_post=policy.can_post(request.user, group),
        search_form=SearchForm(),
        query=f"category={category.pk}" if category else "",
    ))


@group_content
def new_thread(request, group):
    if not policy.can_post(request.user, group):
        raise Http404("Not found")
    form = ThreadForm(request.POST or None, group=group,
                      initial={"category": request.GET.get("category")})

    def save(data, confirm: bool):
        thread = services.start_thread(
            actor=request.user, group=group, category=data["category"], title=data["title"],
            body=data["body"], content_warning=data["content_warning"], confirm=confirm,
        )
        return services.thread_url(thread), thread.outcome

    return _compose(request, group, form, save=save, template="forums/thread_form.html",
                    done="Your thread is up. Thank you for sharing.")


class PostLinks:
    """The URLs of each post's actions, from one `reverse` per action and page: a page of
    20 posts used to reverse about 150 URLs in its template, a good part of its time."""

    _MARK = 2147483647  # stands in for the post id; only the last occurrence is replaced
    ACTIONS = ("react", "reactions", "edit_post", "post_history", "delete_post")

    def __init__(self, group):
        patterns = {name: reverse(f"forums:{name}",
                                  kwargs={"slug": group.slug, "post_id": self._MARK})
                    for name in self.ACTIONS}
        patterns["flag"] = reverse("moderation:flag", args=["post", self._MARK])
        self._parts = {name: url.rpartition(str(self._MARK)) for name, url in patterns.items()}

    def __call__(self, post_id: int) -> dict[str, str]:
        return {name: f"{head}{post_id}{tail}" for name, (head, _, tail) in self._parts.items()}


@group_content
def thread_detail(request, group, thread_id: int):
    thread = _thread(request, group, thread_id)
    order = "time" if request.GET.get("order") == "time" else "tree"
    page_number = request.GET.get("page")
    jump = request.GET.get("post", "")
    if jump.isdigit():
        page_number = selectors.page_of_post(request.user, thread, int(jump), order=order)
    page = selectors.thread_page(request.user, thread, order=order, number=page_number)
    posts = page.object_list
    counts, mine = selectors.reactions_for(request.user, posts)
    moderator = policy.can_moderate(request.user, group)
    shown_ids = {p.pk for p in posts}
    links = PostLinks(group)
    entries = []
    for post in posts:
        indent = 0 if order == "time" else min(post.depth, selectors.SHOWN_DEPTH)
        # Say which post this answers when the nesting alone doesn't show it.
        say_parent = post.parent_id is not None and (
            order == "time" or post.depth > selectors.SHOWN_DEPTH
            or post.parent_id not in shown_ids
        )
        entries.append({
            "post": post, "indent": indent, "say_parent": say_parent, "links": links(post.pk),
            "masked": post.status != Post.Status.PUBLISHED and not moderator
            and post.author_id != request.user.pk,
            "counts": [(kind, label, counts[post.pk].get(kind, 0), kind in mine[post.pk])
                       for kind, label in Reaction.Kind.choices],
            "can_edit": policy.can_edit_post(request.user, post),
            "can_delete": policy.can_delete_post(request.user, post),
        })
    following, last_read_at = selectors.follow_state(request.user, thread)
    if last_read_at is None or last_read_at < thread.last_post_at:
        services.mark_read(actor=request.user, thread=thread)  # only when something is new
    can_reply = policy.can_reply(request.user, thread)
    return render(request, "forums/thread.html", group_page_context(
        request, group, thread=thread, page=page, entries=entries, order=order,
        can_reply=can_reply, reply_form=ReplyForm() if can_reply else None,
        reply_url=reverse("forums:reply", kwargs={"slug": group.slug, "thread_id": thread.pk}),
        following=following, query=f"order={order}" if order == "time" else "",
    ))


@group_content
def reply_to(request, group, thread_id: int):
    thread = _thread(request, group, thread_id)
    if not policy.can_reply(request.user, thread):
        if thread.locked:
            messages.error(request, "This thread is locked, so no new replies can be added.")
            return redirect(services.thread_url(thread))
        raise Http404("Not found")
    target_id = request.POST.get("to") or request.GET.get("to") or ""
    parent = _post(request, group, int(target_id)) if target_id.isdigit() else None
    if parent is not None and parent.thread_id != thread.pk:
        raise Http404("Not found")
    initial = {}
    if parent is not None and request.GET.get("quote") and not parent.is_deleted:
        name = parent.author.display_name if parent.author else "A former member"
        quoted = "\n".join(f"> {line}" for line in parent.body.splitlines())
        initial["body"] = f"> **{name}** wrote:\n{quoted}\n\n"
    form = ReplyForm(request.POST or None, initial=initial)

    def save(data, confirm: bool):
        post = services.reply(actor=request.user, thread=thread, parent=parent,
                              body=data["body"], content_warning=data["content_warning"],
                              confirm=confirm)
        return services.thread_url(thread, post), post.outcome

    return _compose(request, group, form, save=save, template="forums/reply.html",
                    done="Your reply is posted.", thread=thread, parent=parent)


@group_content
def edit_post(request, group, post_id: int):
    post = _post(request, group, post_id)
    if not policy.can_edit_post(request.user, post):
        raise Http404("Not found")
    thread = post.thread
    form = EditForm(request.POST or None, with_title=post.is_opening, initial={
        "title": thread.title, "body": post.body, "content_warning": post.content_warning,
    })

    def save(data, confirm: bool):
        edited = services.edit_post(actor=request.user, post=post, body=data["body"],
                                    content_warning=data["content_warning"], confirm=confirm,
                                    title=data.get("title") or "")
        if post.is_opening and data.get("title"):
            services.edit_thread_title(actor=request.user, thread=thread, title=data["title"])
        return services.thread_url(thread, post), edited.outcome

    return _compose(request, group, form, save=save, template="forums/edit.html",
                    done="Your changes are saved.", thread=thread, post=post)


@require_POST
@group_content
def delete_post(request, group, post_id: int):
    post = _post(request, group, post_id)
    services.delete_post(actor=request.user, post=post)
    messages.success(request, "Your post is deleted. Replies to it stay in the thread.")
    return redirect(services.thread_url(post.thread, post))


@require_POST
@group_content
def react(request, group, post_id: int):
    """Each post has one reaction form: the button pressed sends its `kind`. The service
    checks the reader may react here first, then refuses any other value with a message."""
    post = _post(request, group, post_id)
    try:
        services.toggle_reaction(actor=request.user, post=post,
                                 kind=request.POST.get("kind", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(services.thread_url(post.thread, post))


@group_content
def who_reacted(request, group, post_id: int):
    post = _post(request, group, post_id)
    return render(request, "forums/reactions.html", group_page_context(
        request, group, post=post, thread=post.thread, reactions=selectors.reactors(post),
    ))


@require_POST
@group_content
def follow(request, group, thread_id: int):
    thread = _thread(request, group, thread_id)
    following = request.POST.get("following") == "1"
    services.set_following(actor=request.user, thread=thread, following=following)
    messages.success(request, "You are following this thread." if following
                     else "You won't be told about new replies here.")
    return redirect(services.thread_url(thread))


@require_POST
def moderate_thread(request, slug: str, thread_id: int, action: str):
    group = policy.get_moderated_group(request.user, slug)
    thread = Thread.objects.select_related("group", "author").filter(
        pk=thread_id, group=group).first()
    if thread is None or action not in {"pin", "unpin", "lock", "unlock"}:
        raise Http404("Not found")
    reason = request.POST.get("reason", "")
    if action in {"pin", "unpin"}:
        services.set_pinned(actor=request.user, thread=thread, pinned=action == "pin",
                            reason=reason)
    else:
        services.set_locked(actor=request.user, thread=thread, locked=action == "lock",
                            reason=reason)
    messages.success(request, "Done.")
    return redirect(services.thread_url(thread))


def post_history(request, slug: str, post_id: int):
    group = policy.get_moderated_group(request.user, slug)
    post = Post.objects.select_related("thread", "author").filter(pk=post_id, group=group).first()
    if post is None:
        raise Http404("Not found")
    return render(request, "forums/history.html", group_page_context(
        request, group, post=post, thread=post.thread, revisions=post.revisions.all(),
    ))


def manage_categories(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        category = None
        if request.POST.get("category"):
            category_id = request.POST["category"]
            category = Category.objects.filter(
                group=group, pk=int(category_id) if category_id.isdigit() else 0
            ).first()
            if category is None:
                raise Http404("Not found")
        try:
            services.save_category(actor=request.user, group=group, category=category,
                                   name=form.cleaned_data["name"],
                                   description=form.cleaned_data["description"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The category is saved.")
            return redirect("forums:categories", slug=group.slug)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "forums/categories.html", group_page_context(
        request, group, form=form, categories=list(selectors.categories(group)),
    ), status=status)


def _search(request, group=None):
    form = SearchForm(request.GET or None)
    page = None
    results = []
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        page = selectors.SearchPaginator(
            selectors.search_posts(request.user, query, group=group),
            selectors.SEARCH_PER_PAGE,
        ).get_page(request.GET.get("page"))
        terms = query.split()
        for post in page.object_list:
            snippet = getattr(post, "snippet", None) or selectors.plain_snippet(post.body, terms)
            results.append({"post": post, "snippet": selectors.highlight(snippet)})
    return form, page, results


@group_content
def group_search(request, group):
    form, page, results = _search(request, group)
    return render(request, "forums/search.html", group_page_context(
        request, group, form=form, page=page, results=results,
        query=urlencode({"q": request.GET.get("q", "")}),
    ))


@login_required
def site_search(request):
    form, page, results = _search(request)
    return render(request, "forums/search.html", {
        "form": form, "page": page, "results": results,
        "query": urlencode({"q": request.GET.get("q", "")}),
    })
