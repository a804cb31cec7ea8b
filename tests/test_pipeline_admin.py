"""Moderators in the Django admin: processing state, ffmpeg log tail of a failure, "retry transcode"."""

from __future__ import annotations

import dataclasses

import pytest
from django.utils.html import escape

from feed.models import Video
from tests.test_pipeline import make_video
from uploads import pipeline, transcode

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def moderator(django_user_model, client):
    user = django_user_model.objects.create_user("mod", password="mod-pass-123", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def failed_video(alice, fresh_clip, monkeypatch):
    """A video whose encode really failed (an encoder option ffmpeg refuses), then fixed again."""
    video = make_video(alice, fresh_clip(seconds=2))
    good = transcode.RUNG_SPECS
    monkeypatch.setattr(
        transcode, "RUNG_SPECS", {k: dataclasses.replace(s, preset="no-such-preset") for k, s in good.items()}
    )
    pipeline.transcode_video(video.pk)
    monkeypatch.setattr(transcode, "RUNG_SPECS", good)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and video.ffmpeg_log
    return video


def test_changelist_shows_processing_state(client, moderator, alice):
    Video.objects.create(
        owner=alice, caption="busy one", status=Video.Status.PROCESSING, stage="transcoding", progress=42
    )
    page = client.get("/admin/feed/video/").content.decode()
    assert "busy one" in page and "Processing" in page and "transcoding" in page and "42" in page


def test_failed_video_page_shows_reason_and_ffmpeg_log_tail(client, moderator, failed_video):
    page = client.get(f"/admin/feed/video/{failed_video.pk}/change/").content.decode()
    assert "could not be converted" in page
    assert "preset" in failed_video.ffmpeg_log.lower()  # ffmpeg's own words about what went wrong
    for line in failed_video.ffmpeg_log.strip().splitlines()[-3:]:
        assert escape(line) in page  # the tail is on the page, not only in the database


def test_retry_transcode_action_makes_a_failed_video_ready(
    client, moderator, failed_video, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit (eager in tests)
        response = client.post(
            "/admin/feed/video/", {"action": "retry_transcode", "_selected_action": [failed_video.pk]}, follow=True
        )
    assert response.status_code == 200 and "Re-queued 1 video(s)." in response.content.decode()
    failed_video.refresh_from_db()
    assert failed_video.status == Video.Status.READY and failed_video.error == "" and failed_video.ffmpeg_log == ""
    assert failed_video.transcode_attempts == 2 and failed_video.renditions.count() == 1


def test_admin_is_for_staff_only(client, alice):
    client.force_login(alice)
    response = client.get("/admin/feed/video/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
