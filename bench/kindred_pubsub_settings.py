"""Kindred's production settings with RedisPubSubChannelLayer instead of
RedisChannelLayer, for `bench/chat_fanout.py --layer pubsub` (issue 8 asks for both)."""

from config.settings import *  # noqa: F403
from config.settings import CACHE_PREFIX, REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_PREFIX}:asgi"},
    }
}
