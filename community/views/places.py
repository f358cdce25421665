"""Picking a place: the gazetteer search behind the town boxes (JSON for places.js, and
an HTML search page that works without JavaScript). No login: it holds no private data."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from community import gazetteer, ratelimit

RATE_LIMIT = 120  # searches per person (or address) per minute: a typist makes ~1 a second
RATE_WINDOW = 60
MAX_QUERY = 100


def wants_json(request) -> bool:
    if request.GET.get("format") == "json":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _rate_key(request) -> str:
    if request.user.is_authenticated:
        return f"u{request.user.pk}"
    return "a" + (request.META.get("REMOTE_ADDR") or "unknown")


def _next_url(request) -> str:
    """Where picking a place leads: a page of this site only (default: groups near it)."""
    wanted = request.GET.get("next") or ""
    if wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted.split("#", 1)[0]
    return "/groups/"


def _pick_link(next_url: str, field: str, place: gazetteer.Place) -> str:
    joiner = "&" if "?" in next_url else "?"
    return next_url + joiner + urlencode({field: place.label, f"{field}_place": place.id})


@require_GET
def place_search(request):
    query = (request.GET.get("q") or "")[:MAX_QUERY]
    as_json = wants_json(request)
    if not ratelimit.allow("places", _rate_key(request), limit=RATE_LIMIT, window=RATE_WINDOW):
        message = "You have searched a lot in a short time. Please wait a minute and try again."
        if as_json:
            return JsonResponse({"places": [], "error": message}, status=429)
        return render(request, "community/places.html",
                      {"query": query, "error": message, "results": []}, status=429)
    places = gazetteer.search(query, limit=10)
    if as_json:
        response = JsonResponse({"places": [
            {"id": p.id, "label": p.label, "name": p.name, "region": p.region} for p in places
        ]})
        patch_cache_control(response, public=True, max_age=3600)
    else:
        next_url = _next_url(request)
        field = request.GET.get("field") or "near"
        if not field.isidentifier():
            field = "near"
        results = [(place, _pick_link(next_url, field, place)) for place in places]
        suggestions = gazetteer.suggest(query) if query.strip() and not places else []
        response = render(request, "community/places.html", {
            "query": query, "results": results, "next": next_url, "field": field,
            "suggestions": [(p, _pick_link(next_url, field, p)) for p in suggestions],
            "too_short": 0 < len(gazetteer.normalise(query)) < 2,
        })
    patch_vary_headers(response, ["Accept"])
    return response


def near_context(request, form) -> dict:
    """The "near" part of /groups/: local groups by distance from the chosen town (the
    viewer's own home town when they haven't chosen one), then online groups for the
    same conditions. Adds nothing when no town is in play."""
    from community import selectors, selectors_near
    from community.forms_places import DEFAULT_RADIUS

    user = request.user
    if form.is_bound and not form.is_valid():
        suggestions = getattr(form, "town_suggestions", {}).get("near", [])
        keep = [(name, request.GET[name]) for name in ("q", "kind", "radius")
                if request.GET.get(name)]
        return {"near_suggestions": suggestions, "near_keep": keep}
    place = None
    is_home = False
    if form.is_bound:
        place = getattr(form, "places", {}).get("near")
    asked = any(key in request.GET for key in ("near", "near_pick"))
    if place is None and not asked and policy_home(user):
        place = gazetteer.get(user.home_place_id)
        is_home = place is not None
        if is_home:  # show the town in the box, as if it had been typed
            if form.is_bound:
                form.data = form.data.copy()
                form.data["near"] = place.label
            else:
                form.initial["near"] = place.label
    if place is None:
        return {}
    data = form.cleaned_data if form.is_bound else {}
    try:
        radius = int(data.get("radius") or DEFAULT_RADIUS)
    except ValueError:
        radius = DEFAULT_RADIUS
    q = (data.get("q") or "").strip()
    kind = data.get("kind") or ""
    local = selectors_near.groups_near(user, latitude=place.latitude,
                                       longitude=place.longitude, miles=radius, q=q, kind=kind)
    online = selectors_near.online_groups_for(
        user, conditions=[item.group.condition for item in local], q=q, kind=kind)
    selectors.prime_memberships(user, [item.group for item in local] + online)
    return {"near": {"place": place, "radius": radius, "local": local, "online": online,
                     "is_home": is_home}}


def policy_home(user) -> bool:
    """Has this signed-in person chosen a home town (private to them)?"""
    return bool(getattr(user, "is_authenticated", False) and user.home_place_id)
