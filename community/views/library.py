"""A group's signposts (kept by its moderators) and its resources library (read by its
members, kept by its moderators)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from community import policy, selectors
from community.forms import ResourceForm, SignpostForm
from community.models import Resource, Signpost
from community.services import signposts as library
from community.views.groups import add_errors, group_content, group_page_context

# --- signposts (moderators) -----------------------------------------------------------------


def _signpost_page(request, group, form, status: int = 200):
    own = list(selectors.group_signposts(group))
    return render(request, "community/signposts.html", group_page_context(
        request, group, form=form, own_topics=selectors.by_topic(own), own_count=len(own),
        site_topics=selectors.by_topic(selectors.site_signposts()),
    ), status=status)


@require_http_methods(["GET", "POST"])
def signposts(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    form = SignpostForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                signpost = library.save_group_signpost(actor=request.user, group=group,
                                                       **form.fields_for_service())
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{signpost.name} is added to the group's "
                                 "signposts.")
                return redirect("groups:signposts", slug=group.slug)
        return _signpost_page(request, group, form, status=400)
    return _signpost_page(request, group, form)


@require_http_methods(["GET", "POST"])
def signpost_edit(request, slug: str, signpost_id: int):
    group = policy.get_moderated_group(request.user, slug)
    signpost = get_object_or_404(Signpost, pk=signpost_id, group=group)
    initial = {name: getattr(signpost, name) for name in library.SIGNPOST_FIELDS}
    form = SignpostForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            library.save_group_signpost(actor=request.user, group=group, signpost=signpost,
                                        **form.fields_for_service())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['name']} is saved.")
            return redirect("groups:signposts", slug=group.slug)
    return render(request, "community/signpost_edit.html", group_page_context(
        request, group, form=form, signpost=signpost,
    ), status=400 if request.method == "POST" else 200)


@require_POST
def signpost_delete(request, slug: str, signpost_id: int):
    group = policy.get_moderated_group(request.user, slug)
    signpost = get_object_or_404(Signpost.objects.select_related("group"), pk=signpost_id,
                                 group=group)
    library.delete_group_signpost(actor=request.user, signpost=signpost)
    messages.success(request, f"{signpost.name} is removed from the group's signposts.")
    return redirect("groups:signposts", slug=group.slug)


# --- resources (members read, moderators keep) ------------------------------------------------


@group_content
def resources(request, group):
    return render(request, "community/resources.html", group_page_context(
        request, group,
        resources=list(selectors.group_resources(group)),
        signpost_topics=selectors.by_topic(list(selectors.group_signposts(group))),
    ))


def _resource_form_page(request, group, form, resource=None):
    status = 400 if request.method == "POST" else 200
    return render(request, "community/resource_form.html", group_page_context(
        request, group, form=form, resource=resource), status=status)


def _saved(request, group, resource: Resource):
    messages.success(request, f"\u201c{resource.title}\u201d is saved in the library.")
    url = reverse("groups:resources", kwargs={"slug": group.slug})
    return redirect(f"{url}#resource-{resource.pk}")


@require_http_methods(["GET", "POST"])
def resource_new(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    form = ResourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            resource = library.save_resource(actor=request.user, group=group,
                                             **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _saved(request, group, resource)
    return _resource_form_page(request, group, form)


@require_http_methods(["GET", "POST"])
def resource_edit(request, slug: str, resource_id: int):
    group = policy.get_moderated_group(request.user, slug)
    resource = get_object_or_404(Resource, pk=resource_id, group=group)
    form = ResourceForm(request.POST or None, initial={
        "title": resource.title, "url": resource.url, "body": resource.body})
    if request.method == "POST" and form.is_valid():
        try:
            resource = library.save_resource(actor=request.user, group=group,
                                             resource=resource, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _saved(request, group, resource)
    return _resource_form_page(request, group, form, resource)


@require_POST
def resource_delete(request, slug: str, resource_id: int):
    group = policy.get_moderated_group(request.user, slug)
    resource = get_object_or_404(Resource.objects.select_related("group"), pk=resource_id,
                                 group=group)
    library.delete_resource(actor=request.user, resource=resource)
    messages.success(request, f"\u201c{resource.title}\u201d is removed from the library.")
    return redirect("groups:resources", slug=group.slug)
