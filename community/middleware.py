"""Small response policies that apply to every page."""

from __future__ import annotations

PUBLIC_PREFIXES = ("/help/", "/static/")


class NoIndexMiddleware:
    """Nothing a member writes is indexed by search engines: only the front and help pages
    may be."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path != "/" and not request.path.startswith(PUBLIC_PREFIXES):
            response.setdefault("X-Robots-Tag", "noindex, nofollow, noarchive")
        return response
