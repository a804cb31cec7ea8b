"""Upload as a user does it: Chromium against daphne + a real Celery worker.

One test (CPU is scarce): sign in, choose a file, submit (tus through the app), follow processing
over the websocket until ready, then find the video in the feed.
"""

from __future__ import annotations

import os

import pytest

from feed.models import Video
from tests.conftest import login_in_browser
from uploads.models import Upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True, scope="module")
def _sync_orm():
    # Playwright's sync API keeps an event loop in this thread; our ORM calls are still sync.
    # Module scope: the setting must outlive the transactional test's database flush.
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if old is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


def test_upload_in_the_browser_shows_live_progress_then_the_video_is_in_the_feed(live_stack, page, alice, fresh_clip):
    clip = fresh_clip(seconds=3)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    login_in_browser(page, live_stack, "alice", "alice-pass-123")

    page.goto(f"{live_stack.url}/upload/")
    page.set_input_files("input[type=file][name=file]", str(clip))
    page.fill("textarea[name=caption]", "From the browser #e2e")
    page.wait_for_function("!document.getElementById('upload-submit').disabled")  # client checks done
    assert page.locator("#upload-message").is_hidden()
    page.click("#upload-submit")

    status = page.locator("#upload-status")
    status.wait_for(state="visible", timeout=30_000)
    page.wait_for_selector("#upload-status[data-status=ready]", timeout=90_000)
    video = Video.objects.get(owner=alice)
    assert video.status == Video.Status.READY
    assert video.caption == "From the browser #e2e"
    assert Upload.objects.get(owner=alice).video == video  # it came through tus, not the no-JS form
    assert f"video={video.pk}" in page.url  # a reload would show this state
    # Progress came over the websocket (no polling): events for our topic after the snapshot.
    ours = [f for f in frames if f'"upload:{video.pk}"' in f]
    assert any('"processing"' in f for f in ours), live_stack.logs()
    assert any('"ready"' in f for f in ours)
    assert page.locator("#status-link").get_attribute("href") == f"/v/{video.pk}/"

    page.click("#status-link")
    page.wait_for_selector(f"article.card[data-video-id='{video.pk}']", timeout=15_000)
    page.goto(f"{live_stack.url}/")
    assert page.locator(f"article.card[data-video-id='{video.pk}']").count() == 1
