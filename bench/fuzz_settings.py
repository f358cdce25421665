"""Kindred's production settings for bench/fuzz.py: the chat rate limit raised so that
generated frames are judged on what they say, not refused for how many there are (the
limits and the 4429 close have tests of their own)."""

from config.settings import *  # noqa: F403
from config.settings import KINDRED_RATE_LIMITS

KINDRED_RATE_LIMITS = {**KINDRED_RATE_LIMITS, "chat": "1000000/10s",
                       "chat_new": "1000000/10s"}
