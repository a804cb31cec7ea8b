"""The feed as a viewer uses it: Chromium (Playwright) against daphne + a Celery worker.

Clips are real: rendered with ffmpeg and run through the real ingest + transcode pipeline once per
session, then each test re-creates the Video rows over those HLS files (the live server reads the
test database, so tests are transactional).
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from feed.models import Video, WatchEvent
from tests.conftest import render_test_clip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_CLIPS = 8
KEEP = ("duration", "width", "height", "has_audio", "poster", "placeholder", "hls_master", "preview_playlist")


@contextlib.contextmanager
def sync_orm_beside_playwright():
    """Playwright's sync API keeps an event loop in this thread; the ORM calls here are still sync."""
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if old is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture(autouse=True)
def _sync_orm():
    with sync_orm_beside_playwright():
        yield


@pytest.fixture(scope="session")
def transcoded_clips(django_db_setup, django_db_blocker, clip_dir):
    """Eight 4 s 360x640 clips through ingest + transcode; returns the fields of each ready Video."""
    from uploads import pipeline, services

    with django_db_blocker.unblock(), sync_orm_beside_playwright():
        from feed.models import User

        owner = User.objects.create_user("feed-clip-maker")
        made = []
        try:
            for i in range(N_CLIPS):
                src = render_test_clip(clip_dir / f"feed-{i}.mp4", extra=["-metadata", f"title=feed-{i}"])
                video = services.ingest(
                    owner, src, src.name, services.IngestOptions(enforce_limits=False, queue_transcode=False)
                )
                video = pipeline.transcode_video(video.pk) or Video.objects.get(pk=video.pk)
                assert video.status == Video.Status.READY, video.error
                made.append({name: getattr(video, name) for name in KEEP})
        finally:
            owner.delete()  # the rows go; the HLS files stay for the tests to reuse
    return made


@pytest.fixture
def feed_videos(transactional_db, transcoded_clips, django_user_model):
    """Eight ready public videos, newest first (so the feed shows them in list order)."""
    owner = django_user_model.objects.create_user("luna", password="luna-pass-123")
    now = timezone.now()
    return [
        Video.objects.create(
            owner=owner,
            caption=f"clip number {i} #test",
            status=Video.Status.READY,
            published_at=now - timedelta(minutes=i),
            **fields,
        )
        for i, fields in enumerate(transcoded_clips)
    ]


# What the page is doing, read in one round trip.
STATE_JS = """() => {
  const f = window.clipstream.feed, a = f.active, v = a && a._slot && a._slot.video;
  return {
    active: a ? +a.dataset.videoId || null : null,
    playing: !!v && !v.paused && v.readyState >= 2,
    time: v ? v.currentTime : -1,
    videos: document.querySelectorAll('video').length,
    others_playing: [...document.querySelectorAll('video')].filter(x => x !== v && !x.paused).length,
    any_playing: [...document.querySelectorAll('video')].filter(x => !x.paused).length,
    cards: [...document.querySelectorAll('.card[data-video-id]')].map(c => +c.dataset.videoId),
    end: !!document.querySelector('.card--end'),
    path: location.pathname,
    metrics: window.clipstream.metrics,
  };
}"""


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def wait_playing(page, video_id: int, timeout: float = 15) -> dict:
    """Until `video_id` is the active card and its media time moves forward."""
    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline:
        s = state(page)
        if s["active"] == video_id and s["playing"]:
            if first is None:
                first = s["time"]
            elif s["time"] > first + 0.1:
                return s
        page.wait_for_timeout(100)
    raise AssertionError(f"video {video_id} did not play: {state(page)}")


def swipe_down(page, to_id: int) -> dict:
    page.keyboard.press("ArrowDown")
    return wait_playing(page, to_id)


def test_feed_plays_swipes_pages_in_and_keeps_the_pool(live_stack, page, feed_videos):
    ids = [v.pk for v in feed_videos]
    page_requests = []
    page.on("request", lambda r: "/feed/page/" in r.url and page_requests.append(r.url))
    page.goto(live_stack.url + "/")

    s = wait_playing(page, ids[0])
    assert s["videos"] == 3, "the pool creates exactly its three <video> elements"
    assert s["cards"] == ids[:6], "the first page is rendered by the server"
    assert s["metrics"]["ttffMs"] and s["metrics"]["ttffMs"] > 0

    s = swipe_down(page, ids[1])
    assert s["others_playing"] == 0, "the previous video pauses when the next one plays"
    assert s["path"] == f"/v/{ids[1]}/", "the URL follows the active video"

    for vid in ids[2:]:
        s = swipe_down(page, vid)
        assert s["others_playing"] == 0
        assert s["videos"] == 3
    # Page two came by HTMX (keyset cursor) as the viewer neared the end; nothing repeats.
    assert len(page_requests) == 1 and "cursor=" in page_requests[0]
    assert s["cards"][-2:] == ids[-2:] and len(set(s["cards"])) == len(s["cards"])
    assert s["end"], "the end of the feed says so"
    assert len(s["metrics"]["swipes"]) >= len(ids) - 1
    assert all(sw["startMs"] >= 0 for sw in s["metrics"]["swipes"])

    # Back up, then down again over and over: the pool never grows, decoders stay bounded.
    for _ in range(3):
        page.keyboard.press("ArrowUp")
        wait_playing(page, ids[-2])
        page.keyboard.press("ArrowDown")
        s = wait_playing(page, ids[-1])
    assert s["videos"] == 3 and s["others_playing"] == 0

    # Space pauses the active video and space resumes it.
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    assert not state(page)["playing"]
    page.keyboard.press(" ")
    wait_playing(page, ids[-1])

    # Past the last video the end card stops everything.
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => window.clipstream.feed.active.classList.contains('card--end')", timeout=5000)
    page.wait_for_timeout(300)
    assert state(page)["any_playing"] == 0


def test_deep_link_starts_there_and_a_hidden_tab_pauses(live_stack, page, feed_videos):
    ids = [v.pk for v in feed_videos]
    page.goto(f"{live_stack.url}/v/{ids[4]}/")
    s = wait_playing(page, ids[4])
    assert s["cards"][0] == ids[4], "the deep-linked video is the first card"
    s = swipe_down(page, ids[5])
    assert s["path"] == f"/v/{ids[5]}/"

    # The tab goes to the background: everything pauses and the watch events are beaconed.
    page.evaluate("""() => {
      Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(600)
    s = state(page)
    assert not s["playing"] and s["others_playing"] == 0
    t = s["time"]
    page.wait_for_timeout(500)
    assert state(page)["time"] == t, "no media time passes while hidden"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not WatchEvent.objects.filter(video_id=ids[4]).exists():
        time.sleep(0.2)
    seen = WatchEvent.objects.get(video_id=ids[4])
    assert seen.watched_ms > 0

    # Back to the foreground: the active video resumes.
    page.evaluate("""() => {
      Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    wait_playing(page, ids[5])

    # Share copies this video's link.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_stack.url)
    page.locator(f'.card[data-video-id="{ids[5]}"] .action--share').click()
    page.wait_for_selector(".toast")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_stack.url}/v/{ids[5]}/"

    # A visitor's like goes to the login page, coming back to this video.
    page.locator(f'.card[data-video-id="{ids[5]}"] .action--like').click()
    page.wait_for_url("**/accounts/login/**")
    assert f"next=/v/{ids[5]}/" in page.url.replace("%2F", "/")
