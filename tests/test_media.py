"""The local media view: HLS MIME types, cache rules, Range requests (206/416), HEAD."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

pytestmark = pytest.mark.django_db

SEGMENT = "videos/41/a1/360/seg_0000.m4s"
BODY = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


@pytest.fixture
def media_files():
    root = Path(settings.MEDIA_ROOT)
    files = {
        SEGMENT: BODY,
        "videos/41/a1/360/init.mp4": b"\x00\x00\x00\x18ftypiso6",
        "videos/41/a1/360/index.m3u8": b"#EXTM3U\n",
        "videos/41/a1/master.m3u8": b"#EXTM3U\n",
        "videos/41/a1/poster.jpg": b"\xff\xd8\xff\xe0",
        "sources/1/original.mp4": b"\x00\x00\x00\x18ftypmp42",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def url(name: str) -> str:
    return settings.MEDIA_URL + name


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("name", "ctype", "cache"),
    [
        (SEGMENT, "video/iso.segment", "public, max-age=31536000, immutable"),
        ("videos/41/a1/360/init.mp4", "video/mp4", "public, max-age=31536000, immutable"),
        ("videos/41/a1/poster.jpg", "image/jpeg", "public, max-age=31536000, immutable"),
        ("videos/41/a1/360/index.m3u8", "application/vnd.apple.mpegurl", "public, max-age=2"),
        ("videos/41/a1/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=2"),
    ],
)
def test_media_types_and_cache_rules(client, media_files, name, ctype, cache):
    response = client.get(url(name))
    assert response.status_code == 200
    assert response["Content-Type"] == ctype
    assert response["Cache-Control"] == cache
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == media_files[name]


def test_range_returns_206_with_exactly_those_bytes(client, media_files):
    response = client.get(url(SEGMENT), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 100-199/1024"
    assert response["Content-Length"] == "100"
    assert body(response) == BODY[100:200]
    assert response["Cache-Control"].endswith("immutable")


def test_open_ended_and_suffix_ranges(client, media_files):
    tail = client.get(url(SEGMENT), HTTP_RANGE="bytes=1000-")
    assert (tail.status_code, tail["Content-Range"], body(tail)) == (206, "bytes 1000-1023/1024", BODY[1000:])
    last = client.get(url(SEGMENT), HTTP_RANGE="bytes=-24")
    assert (last.status_code, last["Content-Range"], body(last)) == (206, "bytes 1000-1023/1024", BODY[-24:])
    past_end = client.get(url(SEGMENT), HTTP_RANGE="bytes=1000-5000")
    assert past_end["Content-Range"] == "bytes 1000-1023/1024" and body(past_end) == BODY[1000:]


def test_unsatisfiable_range_is_416(client, media_files):
    response = client.get(url(SEGMENT), HTTP_RANGE="bytes=1024-2000")
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"
    reversed_range = client.get(url(SEGMENT), HTTP_RANGE="bytes=500-100")
    assert reversed_range.status_code == 416


def test_head_has_headers_and_no_body(client, media_files):
    response = client.head(url(SEGMENT))
    assert response.status_code == 200
    assert response["Content-Length"] == "1024"
    assert response["Content-Type"] == "video/iso.segment"
    assert body(response) == b""
    ranged = client.head(url(SEGMENT), HTTP_RANGE="bytes=0-9")
    assert ranged.status_code == 206 and ranged["Content-Length"] == "10" and body(ranged) == b""


def test_head_answers_from_the_view_itself_without_a_body(rf, media_files):
    """Not every server strips HEAD bodies: the view itself must send none."""
    from uploads.media import serve_media

    request = rf.head(url(SEGMENT))
    request.user = AnonymousUser()
    response = serve_media(request, SEGMENT)
    assert response.status_code == 200 and not response.streaming and response.content == b""
    assert response["Content-Length"] == "1024"


def test_other_methods_missing_files_and_traversal_are_refused(client, media_files):
    assert client.post(url(SEGMENT)).status_code == 405
    assert client.get(url("videos/41/a1/360/nope.m4s")).status_code == 404
    assert client.get(url("videos/../../../etc/passwd")).status_code == 404
    assert client.get(url("videos/%2e%2e/%2e%2e/etc/passwd")).status_code == 404


def test_originals_are_private_to_staff(client, django_user_model, media_files):
    assert client.get(url("sources/1/original.mp4")).status_code == 404
    staff = django_user_model.objects.create_user("mod", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(url("sources/1/original.mp4")).status_code == 200
