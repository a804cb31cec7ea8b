"""The transcode service end to end on local storage: claim, progressive preview, publish, retry."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from feed.models import Rendition, Video
from uploads import pipeline, progress, transcode
from uploads.ffbin import ffmpeg_path
from uploads.hls import parse_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def make_video(owner, clip: Path, **fields) -> Video:
    """A Video waiting for its transcode, with `clip` stored as its original (as ingest leaves it)."""
    video = Video.objects.create(owner=owner, source_name=clip.name, source_size=clip.stat().st_size, **fields)
    with open(clip, "rb") as fh:
        video.source_file.save(f"{owner.pk}/{clip.name}", File(fh), save=True)
    return video


@pytest.fixture
def events(monkeypatch):
    """Every progress event the pipeline publishes, in order (they are still sent)."""
    seen: list[dict] = []
    real = progress.publish

    def spy(payload: dict, owner_id=None) -> None:
        seen.append(payload)
        real(payload, owner_id)

    monkeypatch.setattr(progress, "publish", spy)
    return seen


def test_video_becomes_ready_with_ladder_poster_and_placeholder(alice, fresh_clip, events):
    video = make_video(alice, fresh_clip(seconds=3, width=540, height=960))
    pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert (video.status, video.stage, video.progress, video.error) == ("ready", "ready", 100, "")
    assert video.transcode_attempts == 1
    renditions = list(video.renditions.all())
    assert [(r.height, r.width, r.frame_height) for r in renditions] == [(360, 360, 640), (540, 540, 960)]
    assert all(r.codecs.startswith("avc1.64") and r.bitrate > 0 for r in renditions)
    master = default_storage.open(video.hls_master).read().decode()
    assert "RESOLUTION=540x960" in master and "CODECS=" in master
    for r in renditions:
        text = default_storage.open(r.playlist).read().decode()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
        folder = r.playlist.rsplit("/", 1)[0]
        for _, uri in parse_media(text).segments:
            assert default_storage.exists(f"{folder}/{uri}")
    assert default_storage.open(video.poster).read(3) == b"\xff\xd8\xff"  # a JPEG
    assert video.placeholder.startswith("data:image/jpeg;base64,")
    assert video.published_at is not None
    ready = [e for e in events if e["status"] == "ready"]
    assert len(ready) == 1 and ready[0]["url"] == video.get_absolute_url()
    assert ready[0]["master_url"] == default_storage.url(video.hls_master)


def test_lowest_rung_is_playable_before_the_ladder_is_done(alice, fresh_clip, events):
    """The preview event comes while the video is still processing, and what it points at plays."""
    video = make_video(alice, fresh_clip(seconds=10, width=540, height=960))
    at_preview: dict = {}
    real_announce = pipeline._announce_preview

    def check_then_announce(v, playlist, p):
        # Runs on the pipeline's thread the moment the preview is announced: look at storage now.
        text = default_storage.open(playlist).read().decode()
        with tempfile.TemporaryDirectory() as tmp:
            folder = playlist.rsplit("/", 1)[0]
            parsed = parse_media(text)
            for name in [parsed.init, *[uri for _, uri in parsed.segments]]:
                Path(tmp, name).write_bytes(default_storage.open(f"{folder}/{name}").read())
            # As a finished list: ffmpeg, unlike a player, would wait forever for an EVENT list to grow.
            Path(tmp, "index.m3u8").write_text(text + "#EXT-X-ENDLIST\n")
            decoded = subprocess.run(
                [ffmpeg_path(), "-v", "error", "-i", f"{tmp}/index.m3u8", "-f", "null", "-"],
                capture_output=True,
                timeout=30,
            )
        at_preview.update(
            text=text, segments=len(parsed.segments), decoded=decoded.returncode,
            status=Video.objects.get(pk=v.pk).status,
        )  # fmt: skip
        real_announce(v, playlist, p)

    pipeline._announce_preview, saved = check_then_announce, pipeline._announce_preview
    try:
        pipeline.transcode_video(video.pk)
    finally:
        pipeline._announce_preview = saved

    assert at_preview["status"] == "processing"
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in at_preview["text"] and "#EXT-X-ENDLIST" not in at_preview["text"]
    assert 1 <= at_preview["segments"] < 5  # 10 s = 5 segments: it went out before the end
    assert at_preview["decoded"] == 0
    previews = [e for e in events if e.get("preview_url") and e["status"] == "processing"]
    assert len(previews) == 1
    video.refresh_from_db()
    assert previews[0]["preview_url"] == default_storage.url(video.preview_playlist)
    assert previews[0]["topic"] == f"upload:{video.pk}"
    assert events.index(previews[0]) < next(i for i, e in enumerate(events) if e["status"] == "ready")
    final = default_storage.open(video.preview_playlist).read().decode()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in final and len(parse_media(final).segments) == 5


def test_a_second_run_does_nothing_while_the_first_holds_a_fresh_heartbeat(alice, fresh_clip):
    video = make_video(alice, fresh_clip(seconds=2))
    claimed = pipeline.claim_transcode(video.pk)
    assert claimed is not None and claimed.transcode_attempts == 1
    assert pipeline.transcode_video(video.pk) is None
    assert pipeline.is_busy_elsewhere(video.pk)


def test_stale_heartbeat_lets_another_worker_take_over(alice, fresh_clip, settings):
    settings.TRANSCODE_HEARTBEAT_STALE_SECONDS = 5
    video = make_video(alice, fresh_clip(seconds=2))
    assert pipeline.claim_transcode(video.pk) is not None
    Video.objects.filter(pk=video.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=6))
    done = pipeline.transcode_video(video.pk)
    assert done is not None and done.status == Video.Status.READY and done.transcode_attempts == 2
    assert done.hls_master.startswith(f"videos/{video.pk}/a2/")
    assert pipeline.transcode_video(video.pk) is None  # ready videos are never claimed again


def test_worker_that_lost_its_claim_discards_its_output(alice, fresh_clip, monkeypatch):
    video = make_video(alice, fresh_clip(seconds=2))
    real_finalize = pipeline.hls.finalize

    def taken_over_meanwhile(*args, **kwargs):
        Video.objects.filter(pk=video.pk).update(transcode_attempts=7)  # another worker claimed it
        return real_finalize(*args, **kwargs)

    monkeypatch.setattr(pipeline.hls, "finalize", taken_over_meanwhile)
    assert pipeline.transcode_video(video.pk) is None
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING and not Rendition.objects.filter(video=video).exists()


def test_encoder_failure_marks_failed_with_log_tail_and_tells_the_uploader(alice, fresh_clip, events, monkeypatch):
    video = make_video(alice, fresh_clip(seconds=2))
    broken = {k: dataclasses.replace(s, preset="no-such-preset") for k, s in transcode.RUNG_SPECS.items()}
    monkeypatch.setattr(transcode, "RUNG_SPECS", broken)
    pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and video.stage == "failed"
    assert "could not be converted" in video.error
    assert "preset" in video.ffmpeg_log.lower()
    assert events[-1]["status"] == "failed" and events[-1]["message"] == video.error


def test_unreadable_source_fails_cleanly(alice, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000)
    video = make_video(alice, junk)
    pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and "damaged" in video.error


def test_same_file_uploaded_twice_by_one_user_is_one_video(alice, bob, fresh_clip):
    from uploads.services import IngestOptions, ingest

    clip = fresh_clip(seconds=2)
    first = ingest(alice, clip, "a.mp4", IngestOptions(queue_transcode=False))
    again = ingest(alice, clip, "again.mp4", IngestOptions(queue_transcode=False))
    assert again.pk == first.pk and Video.objects.filter(owner=alice).count() == 1
    other = ingest(bob, clip, "a.mp4", IngestOptions(queue_transcode=False))
    assert other.pk != first.pk  # de-duplication is per user


def test_storage_failure_releases_the_claim_so_a_retry_can_redo_it(alice, fresh_clip, monkeypatch):
    video = make_video(alice, fresh_clip(seconds=2))

    def bucket_down(*args, **kwargs):
        raise OSError("storage unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "save_file", bucket_down)
        with pytest.raises(OSError):
            pipeline.transcode_video(video.pk)
    video.refresh_from_db()
    assert (video.status, video.stage, video.error) == ("uploaded", "queued", "")
    done = pipeline.transcode_video(video.pk)  # what the task's retry does
    assert done is not None and done.status == Video.Status.READY and done.transcode_attempts == 2


@pytest.mark.django_db
def test_spent_retries_fail_the_video_with_a_plain_message(alice, small_clip, monkeypatch, caplog):
    """Storage down for good: after the last retry the uploader hears 'failed', never silence."""
    from uploads import services, tasks

    video = services.ingest(alice, small_clip, "clip.mp4", services.IngestOptions(queue_transcode=False))

    def storage_down(video_id):
        raise OSError("storage unavailable")

    monkeypatch.setattr(tasks.pipeline, "transcode_video", storage_down)
    monkeypatch.setattr(tasks.transcode_task, "max_retries", 0)
    with pytest.raises(OSError):
        tasks.transcode_task.apply(args=[video.pk], throw=True)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert video.error == "We could not process this video right now. Please upload it again later."
