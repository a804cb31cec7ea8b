"""Decide once, at start-up, whether Clipstream runs against Redis or fully embedded.

REDIS_MODE=auto (default) pings REDIS_URL with a short timeout; `on` requires Redis and fails
start-up with one line when it does not answer; `off` forces the embedded mode (in-memory
channel layer, Celery worker inside the web process).
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when something at `url` answers a RESP PING with PONG (or asks for auth)."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG") or b"NOAUTH" in reply


def decide_embedded(mode: str, url: str) -> bool:
    mode = mode.strip().lower()
    if mode == "off":
        return True
    if mode == "on":
        if not redis_answers(url):
            raise ImproperlyConfigured(
                f"REDIS_MODE=on but Redis does not answer at {url}. Start Redis or set REDIS_MODE=auto to run embedded."
            )
        return False
    if mode != "auto":
        raise ImproperlyConfigured(f"REDIS_MODE={mode!r}: use auto, on or off")
    return not redis_answers(url)
