"""Crisis and support contacts, by region.

Kept as data, not template text: the signposting work will make them editable by site
staff and pick them per group; until then this is the single source.
"""

from __future__ import annotations

from django.conf import settings

CRISIS_SIGNPOSTS: dict[str, list[dict[str, str]]] = {
    "GB": [
        {
            "name": "999 or A&E",
            "phone": "999",
            "text": "If a life is at risk right now, call 999 or go to A&E.",
            "url": "",
            "hours": "24 hours, every day",
        },
        {
            "name": "Samaritans",
            "phone": "116 123",
            "text": "Talk to someone about anything that is upsetting you. Free to call.",
            "url": "https://www.samaritans.org/",
            "hours": "24 hours, every day",
        },
        {
            "name": "Shout",
            "phone": "85258",
            "text": "Text SHOUT to 85258 to talk by text message. Free.",
            "url": "https://giveusashout.org/",
            "hours": "24 hours, every day",
        },
        {
            "name": "NHS 111",
            "phone": "111",
            "text": "Urgent health advice. Choose the mental health option for urgent "
            "mental health help.",
            "url": "https://111.nhs.uk/",
            "hours": "24 hours, every day",
        },
    ],
}


def crisis_signposts(region: str | None = None) -> list[dict[str, str]]:
    region = (region or settings.KINDRED_REGION).upper()
    return CRISIS_SIGNPOSTS.get(region, CRISIS_SIGNPOSTS["GB"])
