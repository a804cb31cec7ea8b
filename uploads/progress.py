"""Progress events pushed to browsers over `/ws/progress/` (see DESIGN.md, "Websocket protocol").

Topics are strings a client subscribes to: `upload:<video id>`, `job:<generation job id>`,
`user`. Each app registers, per topic kind, a snapshot function that returns the current state
for a user (or None when the user may not see it). Services call `publish()`; events go out only
after the surrounding transaction commits, so a browser never hears of a row it cannot read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

Snapshot = Callable[[Any, str], "dict | None"]
_SNAPSHOTS: dict[str, Snapshot] = {}


def register_topic(kind: str, snapshot: Snapshot) -> None:
    _SNAPSHOTS[kind] = snapshot


def snapshot(user, topic: str) -> dict | None:
    kind, _, key = topic.partition(":")
    fn = _SNAPSHOTS.get(kind)
    if fn is None or not user.is_authenticated:
        return None
    try:
        return fn(user, key)
    except (ValueError, TypeError):  # malformed ids: treat as not found
        return None


def group_name(topic: str) -> str:
    """Channels group names allow [a-zA-Z0-9._-]; topics use ':' as separator."""
    return "t." + topic.replace(":", ".")


def user_group(user_id: int) -> str:
    return f"t.user.{user_id}"


def event(
    topic: str, status: str, progress: float = 0.0, eta_s: float | None = None, message: str = "", **extra
) -> dict:
    payload = {
        "topic": topic,
        "status": status,
        "progress": round(float(progress), 1),
        "eta_s": None if eta_s is None else round(float(eta_s), 1),
        "message": message,
        "ts": time.time(),
    }
    payload.update(extra)
    return payload


def publish(payload: dict, owner_id: int | None = None) -> None:
    """Send `payload` to its topic's subscribers and (copied, topic `user`) to the owner's group."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group_name(payload["topic"]), {"type": "progress.event", "event": payload})
            if owner_id is not None:
                async_to_sync(layer.group_send)(
                    user_group(owner_id),
                    {"type": "progress.event", "event": {**payload, "topic": "user", "source": payload["topic"]}},
                )
        except Exception:  # a push is best effort: the snapshot on (re)connect repairs any gap
            log.warning("progress push failed for %s", payload.get("topic"), exc_info=True)

    transaction.on_commit(send)


class Throttle:
    """Let at most `rate` events per second through; the last one (100 %) is always sent by callers."""

    def __init__(self, rate: float = 2.0):
        self.interval = 1.0 / rate
        self.last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False
