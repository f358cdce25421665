"""Response policies for private pages, and what happens when the site says no.

`PrivatePagesMiddleware`: nothing a signed-in person sees, and nothing inside a group, is
kept by a browser's or a proxy's cache (someone else may use the same computer, and a
shared proxy must never hand one person's page to another), and nothing inside a group is
indexed by search engines, whatever the view said. Static files are served above this
middleware (WhiteNoise) and stay cacheable.

`RefusalMiddleware`: a refusal from the policy ("not found" for a signed-in person) is
written to the security log with the path only (no query string), and a rate limit that
no view turned into a form error becomes the plain 429 page.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.shortcuts import render

from community.abuse import RateLimited
from community.policy import NotAllowed
from community.security_log import security_event

NO_STORE = "private, no-store"
NOINDEX = "noindex, nofollow, noarchive"
# /groups/<slug>/… (the forum, chat, meetings, members… live below it); "new" and "invite"
# are pages of the directory, not groups.
GROUP_PATH = re.compile(r"^/groups/(?!new/|invite/)[^/]+/")


def is_group_path(path: str) -> bool:
    return bool(GROUP_PATH.match(path))


class PrivatePagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path
        if path.startswith(settings.STATIC_URL):
            return response
        in_group = is_group_path(path)
        if in_group:
            response["X-Robots-Tag"] = NOINDEX
        if in_group or _signed_in(request):
            cache_control = response.get("Cache-Control", "")
            if "no-store" not in cache_control or "private" not in cache_control:
                response["Cache-Control"] = NO_STORE
            response.headers.pop("Expires", None)
        return response


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class RefusalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NotAllowed) and _signed_in(request):
            match = getattr(request, "resolver_match", None)
            security_event("access_denied", user=request.user, path=request.path,
                           method=request.method,
                           route=getattr(match, "view_name", "") or "")
            return None  # Django answers "not found" as usual
        if isinstance(exception, RateLimited):
            return rate_limited_page(request, exception.messages[0],
                                     retry_after=exception.retry_after)
        return None


def rate_limited_page(request, message: str = "", *, retry_after: int | None = None,
                      back: str = ""):
    """The plain 429 page, for refusals where there is no form to show again."""
    response = render(request, "429.html", {"message": message, "back": back}, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
