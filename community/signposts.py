"""Crisis and support contacts shipped with Kindred, by region.

These are loaded into the database (`Signpost`) by migration and by
`manage.py load_rule_packs`; site staff keep them up to date in the admin, and are
reminded to re-check each one every six months. The data here is also the fallback
when the database has none for a region, so "Get help now" is never empty.
"""

from __future__ import annotations

from django.conf import settings

CHECKED = "2026-11-01"  # when these entries were last checked against the services' sites

SITE_SIGNPOSTS: dict[str, list[dict[str, str]]] = {
    "GB": [
        {"key": "999", "topic": "crisis", "name": "999 or A&E", "phone": "999",
         "description": "If a life is at risk right now, call 999 or go to A&E.",
         "url": "", "hours": "24 hours, every day",
         "who_for": "Anyone whose life, or someone else's, is at risk now."},
        {"key": "samaritans", "topic": "crisis", "name": "Samaritans", "phone": "116 123",
         "email": "jo@samaritans.org",
         "description": "Talk to someone about anything that is upsetting you. Free to call.",
         "url": "https://www.samaritans.org/", "hours": "24 hours, every day",
         "who_for": "Anyone, whatever you are going through."},
        {"key": "shout", "topic": "crisis", "name": "Shout", "text_number": "85258",
         "phone": "",
         "description": "Text SHOUT to 85258 to talk by text message. Free.",
         "url": "https://giveusashout.org/", "hours": "24 hours, every day",
         "who_for": "Anyone who would rather text than talk."},
        {"key": "nhs-111", "topic": "crisis", "name": "NHS 111", "phone": "111",
         "description": "Urgent health advice. Choose the mental health option for urgent "
                        "mental health help.",
         "url": "https://111.nhs.uk/", "hours": "24 hours, every day",
         "who_for": "Anyone in England, Scotland or Wales who needs urgent help."},
        {"key": "childline", "topic": "crisis", "name": "Childline", "phone": "0800 1111",
         "description": "Free, private support for children and young people.",
         "url": "https://www.childline.org.uk/", "hours": "24 hours, every day",
         "who_for": "Anyone under 19."},
        {"key": "gp", "topic": "health", "name": "Your GP or practice nurse", "phone": "",
         "description": "Talk to them before you change how you take any medicine.",
         "url": "", "hours": "Your surgery's opening hours",
         "who_for": "Anyone registered with a GP."},
        {"key": "pharmacist", "topic": "health", "name": "Your pharmacist", "phone": "",
         "description": "Ask at any pharmacy about medicines and side effects, no "
                        "appointment needed.",
         "url": "https://www.nhs.uk/service-search/pharmacy", "hours": "Pharmacy opening hours",
         "who_for": "Anyone."},
        {"key": "nhs-111-health", "topic": "health", "name": "NHS 111", "phone": "111",
         "description": "Health advice when you can't wait for your GP.",
         "url": "https://111.nhs.uk/", "hours": "24 hours, every day",
         "who_for": "Anyone in England, Scotland or Wales."},
    ],
}
RESOURCE_KEYS = ("name", "phone", "text", "url", "hours", "email", "text_number", "who_for")


def shipped(region: str | None = None) -> list[dict[str, str]]:
    region = (region or settings.KINDRED_REGION).upper()
    return SITE_SIGNPOSTS.get(region, SITE_SIGNPOSTS["GB"])


def as_resource(entry: dict) -> dict:
    return {
        "name": entry.get("name", ""), "phone": entry.get("phone", ""),
        "text": entry.get("description", ""), "url": entry.get("url", ""),
        "hours": entry.get("hours", ""), "email": entry.get("email", ""),
        "text_number": entry.get("text_number", ""), "who_for": entry.get("who_for", ""),
    }


def crisis_signposts(region: str | None = None) -> list[dict[str, str]]:
    """The region's crisis contacts from the shipped data (for places with no database)."""
    return [as_resource(e) for e in shipped(region) if e["topic"] == "crisis"]


def sync_shipped(signpost_model, *, region: str | None = None) -> int:
    """Add shipped signposts that are missing (by key); never overwrite staff edits."""
    from datetime import date

    made = 0
    for region_code, entries in SITE_SIGNPOSTS.items():
        if region and region_code != region.upper():
            continue
        for position, entry in enumerate(entries):
            exists = signpost_model.objects.filter(
                group__isnull=True, region=region_code, key=entry["key"]).exists()
            if exists:
                continue
            fields = {k: v for k, v in entry.items() if k != "key"}
            signpost_model.objects.create(
                region=region_code, key=entry["key"], position=position,
                last_checked=date.fromisoformat(CHECKED), **fields)
            made += 1
    return made
