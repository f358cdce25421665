"""ASGI app of the bare baseline: `daphne bench.bare_channels.asgi:application`.

HTTP answers /healthz (so the bench can tell when the server is up); WebSockets at
/ws/room/<name>/ go to the tutorial consumer behind the Origin check, as in the tutorial.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare_channels.settings")

import django  # noqa: E402

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from bench.bare_channels.consumers import ChatConsumer  # noqa: E402


async def health(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


application = ProtocolTypeRouter({
    "http": health,
    "websocket": AllowedHostsOriginValidator(
        URLRouter([re_path(r"^ws/room/(?P<name>[\w-]+)/$", ChatConsumer.as_asgi())])
    ),
})
