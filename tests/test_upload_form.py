"""The upload page and its plain multipart POST (the no-JavaScript path), with the streaming cap."""

from __future__ import annotations

import asyncio
import io

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client

from feed.models import Video
from uploads import handlers, views

MB = 1024 * 1024

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_upload_page_needs_sign_in(client):
    response = client.get("/upload/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_upload_page_has_the_form_and_limits(alice_client):
    html = alice_client.get("/upload/").content.decode()
    assert 'id="upload-form"' in html
    assert 'type="file" name="file"' in html
    assert 'name="visibility"' in html and 'name="trim_start"' in html and 'name="cover_time"' in html
    assert 'data-max-bytes="52428800"' in html
    assert "tus-js-client-4.3.1.min.js" in html


def test_plain_post_creates_the_video_and_redirects_to_its_state(alice_client, alice, small_clip):
    with open(small_clip, "rb") as fh:
        response = alice_client.post(
            "/upload/",
            {"file": fh, "caption": "First one #Hello", "visibility": "private", "cover_time": "2"},
        )
    assert response.status_code == 302, response.content
    video = Video.objects.get(owner=alice)
    assert response["Location"] == f"/upload/?video={video.pk}"
    assert video.visibility == Video.Visibility.PRIVATE
    assert video.cover_time == 2.0
    assert list(video.hashtags.values_list("name", flat=True)) == ["hello"]

    # Reloading the page shows the current state (the websocket snapshot, rendered server-side).
    page = alice_client.get(response["Location"]).content.decode()
    assert 'data-status="uploaded"' in page
    assert f'data-video-id="{video.pk}"' in page


def test_state_page_of_a_ready_video_links_to_it(alice_client, alice):
    video = Video.objects.create(owner=alice, status=Video.Status.READY, stage="ready", progress=100)
    page = alice_client.get(f"/upload/?video={video.pk}").content.decode()
    assert 'data-status="ready"' in page
    assert f'href="/v/{video.pk}/"' in page


def test_someone_elses_upload_state_is_not_found(alice_client, bob):
    video = Video.objects.create(owner=bob)
    assert alice_client.get(f"/upload/?video={video.pk}").status_code == 404
    assert alice_client.get("/upload/?video=abc").status_code == 404


def test_post_without_a_file_says_so(alice_client):
    response = alice_client.post("/upload/", {"caption": "nothing"})
    assert response.status_code == 400
    assert "Choose a video file" in response.content.decode()


def test_bad_options_are_refused_with_the_form_kept(alice_client, small_clip):
    with open(small_clip, "rb") as fh:
        response = alice_client.post("/upload/", {"file": fh, "caption": "keep me", "trim_start": "abc"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "trim start must be a number" in html
    assert "keep me" in html
    assert not Video.objects.exists()


def test_plain_post_needs_the_csrf_token(alice, small_clip):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    with open(small_clip, "rb") as fh:
        assert client.post("/upload/", {"file": fh}).status_code == 403
    assert not Video.objects.exists()


# --- the streaming cap: never read more than the cap -----------------------------------------------


class CountingBody(io.RawIOBase):
    """A request body produced on demand (nothing held in memory) that counts what was read."""

    def __init__(self, head: bytes, size: int, tail: bytes):
        self.head, self.size, self.tail, self.pos = head, size, tail, 0
        self.total = len(head) + size + len(tail)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.total - self.pos)
        if n <= 0:
            return 0
        out = bytearray(n)
        for i in range(n):  # only ever called over small ranges at the edges
            if self.pos + i >= len(self.head):
                break
            out[i] = self.head[self.pos + i]
        tail_start = len(self.head) + self.size
        for i in range(max(0, tail_start - self.pos), n):
            out[i] = self.tail[self.pos + i - tail_start]
        buffer[:n] = out
        self.pos += n
        return n

    @property
    def read_bytes(self) -> int:
        return self.pos


def _multipart_request(user, file_size: int) -> tuple[WSGIRequest, CountingBody]:
    boundary = "----clipstreamtest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = CountingBody(head, file_size, tail)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/upload/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(body, buffer_size=64 * 1024),
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "CONTENT_LENGTH": str(body.total),
    }
    request = WSGIRequest(environ)
    request.user = user
    request._dont_enforce_csrf_checks = True
    request.session = SessionStore()
    return request, body


def test_51_mb_declared_is_refused_before_reading_a_byte(alice):
    request, body = _multipart_request(alice, 51 * MB)
    response = views.upload_page(request)
    assert response.status_code == 413
    assert "larger than 50 MB" in response.content.decode()
    assert body.read_bytes == 0
    assert not Video.objects.exists()


def test_streaming_cap_stops_reading_once_the_file_passes_it(alice, settings, monkeypatch):
    settings.UPLOAD_MAX_BYTES = 2 * MB
    # Let the Content-Length check pass (a client may declare a length that fits) so the
    # streaming handler itself has to stop the 6 MB body.
    monkeypatch.setattr(handlers, "FORM_OVERHEAD", 8 * MB)
    request, body = _multipart_request(alice, 6 * MB)
    response = views.upload_page(request)
    assert response.status_code == 413
    assert "larger than 2 MB" in response.content.decode()
    # Stopped within a couple of parser chunks of the cap, far from the 6 MB sent.
    assert body.read_bytes <= 2 * MB + 3 * 64 * 1024
    assert not Video.objects.exists()


# --- under ASGI (daphne) Django spools the whole body before the view: the middleware caps it --------


def _asgi_post(headers: list[tuple[bytes, bytes]], chunks: int, chunk_size: int = MB) -> tuple[int, int, bytes]:
    """Drive the real Django ASGI app behind BodyCapMiddleware; returns (status, chunks read, body)."""
    from django.core.asgi import get_asgi_application

    app = handlers.BodyCapMiddleware(get_asgi_application())
    scope = {"type": "http", "method": "POST", "path": "/upload/", "headers": headers, "query_string": b""}
    scope |= {"scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1234), "root_path": ""}
    sent: list[dict] = []
    read = 0

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"\0" * chunk_size, "more_body": read < chunks}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], read, b"".join(m.get("body", b"") for m in sent[1:])


def test_asgi_cap_refuses_a_declared_51_mb_without_reading():
    status, read, body = _asgi_post([(b"content-length", str(51 * MB).encode())], chunks=51)
    assert (status, read) == (413, 0)
    assert b"larger than 50 MB" in body


def test_asgi_cap_stops_a_chunked_body_at_the_cap():
    status, read, body = _asgi_post([(b"content-type", b"multipart/form-data; boundary=x")], chunks=80)
    assert status == 413
    assert read == 51  # 50 MB + the form overhead is passed inside the 51st 1 MB message
    assert b"larger than 50 MB" in body
