"""Settings for the bare Django Channels group chat (the benchmark baseline).

No Kindred code: the Channels tutorial's chat consumer behind the same channels-redis
layer configuration as Kindred's production settings (config/settings.py: hosts with
max_connections=1000, capacity=1000, expiry=30, group_expiry=3600), served by the same
daphne. Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/9),
BENCH_LAYER (redis | pubsub), BENCH_PREFIX (channel-layer key prefix).
"""

import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "bare-channels-bench-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["daphne", "channels"]
MIDDLEWARE = []
ROOT_URLCONF = "bench.bare_channels.urls"
ASGI_APPLICATION = "bench.bare_channels.asgi.application"
DATABASES = {}
USE_TZ = True

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PREFIX = os.environ.get("BENCH_PREFIX", "bare") + ":asgi"
if os.environ.get("BENCH_LAYER", "redis") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": PREFIX},
        }
    }
else:  # the same as Kindred's production CHANNEL_LAYERS
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": 1000}],
                "prefix": PREFIX,
                "capacity": 1000,
                "expiry": 30,
                "group_expiry": 3600,
            },
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
