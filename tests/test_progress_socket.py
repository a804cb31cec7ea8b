"""The `/ws/progress/` protocol through the real ASGI app, session auth and the Redis channel layer."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application
from feed.models import Video
from uploads import progress

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie_headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


def _video(owner, **fields) -> Video:
    return Video.objects.create(owner=owner, status=Video.Status.PROCESSING, stage="transcoding", progress=40, **fields)


async def _connect(headers):
    communicator = WebsocketCommunicator(application, "/ws/progress/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def test_anonymous_socket_is_closed_with_4401():
    async def run():
        communicator = WebsocketCommunicator(application, "/ws/progress/", headers=[(b"origin", b"http://127.0.0.1")])
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(run)() == (False, 4401)


def test_foreign_origin_is_refused(client, alice):
    headers = [h for h in _cookie_headers(client, alice) if h[0] != b"origin"] + [(b"origin", b"http://evil.example")]

    async def run():
        communicator, connected, _ = await _connect(headers)
        await communicator.disconnect()
        return connected

    assert async_to_sync(run)() is False


def test_owner_gets_snapshot_then_live_events(client, alice):
    video = _video(alice)
    headers = _cookie_headers(client, alice)
    topic = f"upload:{video.pk}"

    async def run():
        from channels.db import database_sync_to_async

        page, connected, _ = await _connect(headers)  # the upload page follows the topic
        assert connected
        await page.send_json_to({"subscribe": [topic, "user"]})
        first = await page.receive_json_from(timeout=5)
        second = await page.receive_json_from(timeout=5)
        other, _, _ = await _connect(headers)  # any other page of alice's follows `user` only
        await other.send_json_to({"subscribe": ["user"]})
        await other.receive_json_from(timeout=5)
        # A service publishes (outside any transaction: on_commit runs at once).
        await database_sync_to_async(progress.publish)(
            progress.event(topic, "processing", 55.5, 12, "Transcoding"), alice.pk
        )
        on_page = await page.receive_json_from(timeout=5)
        page_has_no_duplicate = await page.receive_nothing(timeout=0.3)
        on_other = await other.receive_json_from(timeout=5)
        await page.disconnect()
        await other.disconnect()
        return first, second, on_page, page_has_no_duplicate, on_other

    first, second, on_page, page_has_no_duplicate, on_other = async_to_sync(run)()
    assert first["topic"] == topic and first["snapshot"] is True
    assert (first["status"], first["progress"], first["video_id"]) == ("processing", 40.0, video.pk)
    assert second["topic"] == "user" and second["snapshot"] is True
    assert (on_page["topic"], on_page["progress"], on_page["eta_s"]) == (topic, 55.5, 12)
    assert page_has_no_duplicate  # the `user` copy is dropped where the topic itself is followed
    assert (on_other["topic"], on_other["source"], on_other["progress"]) == ("user", topic, 55.5)


def test_other_user_cannot_subscribe_to_an_upload(client, alice, bob):
    video = _video(alice)
    headers = _cookie_headers(client, bob)

    async def run():
        communicator, connected, _ = await _connect(headers)
        await communicator.send_json_to({"subscribe": [f"upload:{video.pk}", "upload:not-a-number", "nope:1"]})
        replies = [await communicator.receive_json_from(timeout=5) for _ in range(3)]
        # Nothing of alice's reaches bob afterwards.
        from channels.db import database_sync_to_async

        await database_sync_to_async(progress.publish)(progress.event(f"upload:{video.pk}", "ready", 100), alice.pk)
        silent = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return replies, silent

    replies, silent = async_to_sync(run)()
    assert [r["status"] for r in replies] == ["error", "error", "error"]
    assert all(r["message"] == "not found" for r in replies)
    assert silent


def test_events_wait_for_the_transaction_to_commit(client, alice):
    """A browser never hears of a row it cannot read yet."""
    from django.db import transaction

    video = _video(alice)
    headers = _cookie_headers(client, alice)
    topic = f"upload:{video.pk}"

    async def run():
        from channels.db import database_sync_to_async

        communicator, _, _ = await _connect(headers)
        await communicator.send_json_to({"subscribe": [topic]})
        await communicator.receive_json_from(timeout=5)  # snapshot

        def publish_in_rolled_back_transaction():
            try:
                with transaction.atomic():
                    progress.publish(progress.event(topic, "ready", 100))
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass

        await database_sync_to_async(publish_in_rolled_back_transaction)()
        silent = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return silent

    assert async_to_sync(run)() is True
