"""`/ws/progress/`: session-authenticated; clients subscribe to topics they own.

Client → server: `{"subscribe": ["upload:12", "job:<uuid>", "user"]}` (and `unsubscribe`).
Server → client: per topic, a snapshot of the current state first, then each event as it happens.
A topic the user may not see gets `{"topic": t, "status": "error", "message": "not found"}`.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from uploads import progress

MAX_TOPICS = 50


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined: set[str] = set()
        self.topics: set[str] = set()
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        for topic in _topics(content.get("unsubscribe")):
            group = self._group_for(topic)
            self.topics.discard(topic)
            if group in self.groups_joined:
                self.groups_joined.discard(group)
                await self.channel_layer.group_discard(group, self.channel_name)
        for topic in _topics(content.get("subscribe")):
            if len(self.groups_joined) >= MAX_TOPICS:
                await self.send_json({"topic": topic, "status": "error", "message": "too many topics"})
                continue
            state = await database_sync_to_async(progress.snapshot)(self.user, topic)
            if state is None:
                await self.send_json({"topic": topic, "status": "error", "message": "not found"})
                continue
            group = self._group_for(topic)
            self.topics.add(topic)
            if group not in self.groups_joined:
                self.groups_joined.add(group)
                await self.channel_layer.group_add(group, self.channel_name)
            await self.send_json({**state, "snapshot": True})

    def _group_for(self, topic: str) -> str:
        if topic == "user":
            return progress.user_group(self.user.pk)
        return progress.group_name(topic)

    async def progress_event(self, message):
        event = message["event"]
        # The owner's `user` copy of an event is redundant on a socket that follows its topic.
        if event.get("topic") == "user" and event.get("source") in self.topics:
            return
        await self.send_json(event)


def _topics(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [t for t in value if isinstance(t, str) and 0 < len(t) <= 80]
