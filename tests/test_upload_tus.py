"""tus 1.0.0 resumable uploads: creation, resume after an interruption, termination, limits."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from feed.models import Video
from uploads.models import Upload

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def tus_metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def tus_create(client: Client, length: int, body: bytes | None = None, **metadata: str):
    extra = {**TUS, "HTTP_UPLOAD_LENGTH": str(length), "HTTP_UPLOAD_METADATA": tus_metadata(**metadata)}
    if body is not None:
        return client.generic("POST", "/upload/tus/", body, content_type=CHUNK, **extra)
    return client.generic("POST", "/upload/tus/", b"", **extra)


def tus_patch(client: Client, url: str, offset: int, data: bytes):
    return client.generic("PATCH", url, data, content_type=CHUNK, HTTP_UPLOAD_OFFSET=str(offset), **TUS)


def tus_send(client: Client, data: bytes, **metadata: str):
    """Create and send in one PATCH; returns the last response (the create one if refused)."""
    created = tus_create(client, len(data), **metadata)
    if created.status_code != 201:
        return created
    return tus_patch(client, created["Location"], 0, data)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_options_advertise_version_extensions_and_max_size(alice_client, settings):
    response = alice_client.options("/upload/tus/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "creation-with-upload", "termination"}
    assert response["Tus-Max-Size"] == str(settings.UPLOAD_MAX_BYTES)


def test_interrupted_upload_resumes_from_the_offset_the_server_reports(alice_client, alice, small_clip, settings):
    data = small_clip.read_bytes()
    created = tus_create(
        alice_client, len(data), filename="beach.mp4", caption="Sunny #beach #Summer", visibility="unlisted"
    )
    assert created.status_code == 201
    url = created["Location"]
    assert created["Upload-Offset"] == "0"

    first = tus_patch(alice_client, url, 0, data[:300_000])
    assert first.status_code == 204
    assert first["Upload-Offset"] == "300000"
    assert "Clipstream-Video-Id" not in first

    # The connection dropped: the client asks where to continue.
    head = alice_client.head(url, **TUS)
    assert head.status_code == 200
    assert head["Upload-Offset"] == "300000"
    assert head["Upload-Length"] == str(len(data))
    assert head["Cache-Control"] == "no-store"

    rest = tus_patch(alice_client, url, 300_000, data[300_000:])
    assert rest.status_code == 204, rest.content
    assert rest["Upload-Offset"] == str(len(data))
    video = Video.objects.get(pk=int(rest["Clipstream-Video-Id"]))
    assert video.owner == alice
    assert video.source_name == "beach.mp4"
    assert video.source_size == len(data)
    assert video.visibility == Video.Visibility.UNLISTED
    assert sorted(video.hashtags.values_list("name", flat=True)) == ["beach", "summer"]
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.INGESTED and upload.video == video
    assert not upload.work_path.exists()  # the original now lives in storage
    assert video.source_file.storage.exists(video.source_file.name)


def test_creation_with_upload_takes_the_first_bytes_in_the_post(alice_client, small_clip):
    data = small_clip.read_bytes()
    created = tus_create(alice_client, len(data), body=data[:1000], filename="a.mp4")
    assert created.status_code == 201
    assert created["Upload-Offset"] == "1000"
    done = tus_patch(alice_client, created["Location"], 1000, data[1000:])
    assert done.status_code == 204
    assert Video.objects.filter(pk=int(done["Clipstream-Video-Id"])).exists()


def test_trim_and_cover_travel_in_the_metadata(alice_client, small_clip):
    response = tus_send(
        alice_client, small_clip.read_bytes(), filename="t.mp4", trim_start="0.5", trim_end="3", cover_time="1.5"
    )
    assert response.status_code == 204
    video = Video.objects.get(pk=int(response["Clipstream-Video-Id"]))
    assert (video.trim_start, video.trim_end, video.cover_time) == (0.5, 3.0, 1.5)


def test_patch_at_the_wrong_offset_is_a_conflict(alice_client, small_clip):
    url = tus_create(alice_client, 5000, filename="a.mp4")["Location"]
    response = tus_patch(alice_client, url, 100, b"x" * 100)
    assert response.status_code == 409
    assert "does not match" in response.content.decode()
    assert Upload.objects.get().offset == 0


def test_patch_never_writes_past_the_declared_length(alice_client):
    url = tus_create(alice_client, 1000, filename="a.mp4")["Location"]
    assert tus_patch(alice_client, url, 0, b"a" * 600).status_code == 204
    response = tus_patch(alice_client, url, 600, b"b" * 500)
    assert response.status_code == 413
    assert "past the declared Upload-Length" in response.content.decode()
    upload = Upload.objects.get()
    assert upload.offset == 600
    assert upload.work_path.stat().st_size == 600


def test_upload_length_is_capped(alice_client, settings):
    response = tus_create(alice_client, settings.UPLOAD_MAX_BYTES + 1, filename="big.mp4")
    assert response.status_code == 413
    assert "larger than 50 MB" in response.content.decode()
    assert not Upload.objects.exists()


def test_termination_deletes_the_bytes(alice_client):
    url = tus_create(alice_client, 1000, filename="a.mp4")["Location"]
    tus_patch(alice_client, url, 0, b"a" * 10)
    work_path = Upload.objects.get().work_path
    assert alice_client.delete(url, **TUS).status_code == 204
    assert not Upload.objects.exists()
    assert not work_path.exists()
    assert alice_client.head(url, **TUS).status_code == 404


def test_other_users_cannot_see_or_touch_an_upload(alice_client, bob):
    url = tus_create(alice_client, 1000, filename="a.mp4")["Location"]
    other = Client()
    other.force_login(bob)
    assert other.head(url, **TUS).status_code == 404
    assert tus_patch(other, url, 0, b"x" * 10).status_code == 404
    assert other.delete(url, **TUS).status_code == 404
    assert Upload.objects.get().offset == 0


def test_signed_out_and_wrong_version_are_refused(client, alice):
    assert tus_create(client, 100, filename="a.mp4").status_code == 403
    client.force_login(alice)
    response = client.generic("POST", "/upload/tus/", b"", HTTP_TUS_RESUMABLE="0.2.2", HTTP_UPLOAD_LENGTH="100")
    assert response.status_code == 412
    assert not Upload.objects.exists()


def test_tus_requests_need_the_csrf_header(alice, small_clip):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/upload/")
    token = client.cookies["csrftoken"].value
    assert tus_create(client, 100, filename="a.mp4").status_code == 403
    ok = client.generic("POST", "/upload/tus/", b"", HTTP_X_CSRFTOKEN=token, HTTP_UPLOAD_LENGTH="100", **TUS)
    assert ok.status_code == 201


def test_failed_upload_answers_gone_so_the_client_starts_afresh(alice_client, tmp_path):
    data = b"not a video at all " * 100
    url = tus_create(alice_client, len(data), filename="x.mp4")["Location"]
    assert tus_patch(alice_client, url, 0, data).status_code == 400
    assert alice_client.head(url, **TUS).status_code == 410
    assert Upload.objects.get().status == Upload.Status.FAILED


def test_abandoned_uploads_are_swept_after_a_day(alice_client):
    from datetime import timedelta

    from django.utils import timezone

    from uploads.tasks import sweep_abandoned_uploads

    old_url = tus_create(alice_client, 1000, filename="old.mp4")["Location"]
    tus_patch(alice_client, old_url, 0, b"a" * 10)
    fresh_url = tus_create(alice_client, 1000, filename="fresh.mp4")["Location"]
    old = Upload.objects.get(filename="old.mp4")
    Upload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=25))
    assert sweep_abandoned_uploads.apply().get() == 1
    assert not old.work_path.exists()
    assert list(Upload.objects.values_list("filename", flat=True)) == ["fresh.mp4"]
    assert alice_client.head(fresh_url, **TUS).status_code == 200
