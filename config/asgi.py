"""ASGI entry point: HTTP through Django, websockets through Channels (session-authenticated)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.embedded import start_embedded_worker_if_needed  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from uploads.handlers import BodyCapMiddleware  # noqa: E402

start_embedded_worker_if_needed()

application = ProtocolTypeRouter(
    {
        # Django's ASGI handler spools a whole body before any view runs: cap uploads first.
        "http": BodyCapMiddleware(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
