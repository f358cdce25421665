"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets are checked against ALLOWED_HOSTS by Origin and authenticated with the
site's session cookie before any consumer runs.
"""

import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from moderation import screening  # noqa: E402

# Compile the screening rules now, off the event loop, rather than on someone's first
# message (it takes a second or two).
threading.Thread(target=screening.warm, name="warm-screening", daemon=True).start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
