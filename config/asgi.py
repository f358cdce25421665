"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets are checked against ALLOWED_HOSTS by Origin and authenticated with the
site's session cookie before any consumer runs.
"""

import gc
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from community.consumers.guard import TryAgainWhenUnavailable  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from moderation import screening  # noqa: E402


def _warm_up() -> None:
    """Compile the screening rules now, off the event loop, rather than on someone's first
    message (it takes a second or so); then move everything built at start-up out of the
    garbage collector's way. Full collections over a big heap are what set chat's p99
    (PERFORMANCE_NOTES.md), so the youngest generation is also allowed to grow larger
    before a collection."""
    screening.warm()
    gc.freeze()


gc.set_threshold(10_000, 20, 20)
threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            TryAgainWhenUnavailable(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
