"""Moderators can read uploads in the admin; the upload snapshot carries what the page shows."""

from __future__ import annotations

import pytest

from feed.models import Video
from uploads import services
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("mod", password="mod-pass-123"))
    return client


def test_upload_admin_lists_searches_and_shows_an_upload(admin_client, alice):
    video = Video.objects.create(owner=alice)
    upload = Upload.objects.create(owner=alice, filename="cat.mp4", length=4 * 1024 * 1024, offset=1024 * 1024)
    upload.video = video
    upload.save()
    listing = admin_client.get("/admin/uploads/upload/", {"q": "alice"})
    assert listing.status_code == 200
    assert "cat.mp4" in listing.content.decode() and "25% of 4.0 MB" in listing.content.decode()
    assert admin_client.get(f"/admin/uploads/upload/{upload.pk}/change/").status_code == 200
    assert admin_client.get("/admin/uploads/upload/add/").status_code == 403


def test_deleting_an_upload_in_the_admin_removes_its_bytes(admin_client, alice):
    upload = Upload.objects.create(owner=alice, filename="cat.mp4", length=10)
    upload.work_path.parent.mkdir(parents=True, exist_ok=True)
    upload.work_path.write_bytes(b"12345")
    response = admin_client.post(f"/admin/uploads/upload/{upload.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Upload.objects.exists()
    assert not upload.work_path.exists()


def test_snapshot_offers_the_preview_rung_and_poster_while_processing(alice, bob):
    video = Video.objects.create(
        owner=alice,
        status=Video.Status.PROCESSING,
        stage="transcoding",
        progress=40,
        preview_playlist="videos/1/a1/360/index.m3u8",
        poster="videos/1/a1/poster.jpg",
    )
    state = services.snapshot(alice, str(video.pk))
    assert state["status"] == "processing" and state["progress"] == 40
    assert state["preview_url"].endswith("videos/1/a1/360/index.m3u8")
    assert state["poster_url"].endswith("videos/1/a1/poster.jpg")
    assert "url" not in state
    assert services.snapshot(bob, str(video.pk)) is None
