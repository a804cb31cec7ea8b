"""A user generates a video with the local provider and watches it arrive over the websocket.

Also measures, for docs/aigen.md: websocket messages and HTTP requests per job against what
5-second polling would have cost, and push latency (the worker records a change → the browser
has the frame).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time

import pytest

from tests.conftest import login_in_browser

# Playwright's sync API keeps an event loop running in this thread; the ORM calls of fixtures
# (users, teardown flush) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
EXTRA_JOBS = 2  # more jobs for the latency median; each is ~10 s on two cores


def _watch(page) -> tuple[list, list]:
    frames: list[tuple[float, dict]] = []
    requests: list[tuple[str, str]] = []

    def on_ws(ws):
        def received(payload):
            try:
                frames.append((time.time(), json.loads(payload)))
            except (TypeError, ValueError):
                pass

        ws.on("framereceived", received)

    page.on("websocket", lambda ws: (requests.append((ws.url, "websocket")), on_ws(ws)))
    page.on("request", lambda r: requests.append((r.url, r.resource_type)))
    return frames, requests


def _generate(page, url: str, prompt: str, wait: bool = True) -> str:
    page.goto(f"{url}/generate/")
    page.fill("textarea[name=prompt]", prompt)
    page.select_option("select[name=seconds]", "4")
    assert page.inner_text("#price").startswith("free")
    with page.expect_navigation():
        page.click("#generate-form button[type=submit]")
    if wait:
        page.wait_for_selector("#job[data-status=ready]", timeout=120_000)
    return page.get_attribute("#job", "data-topic")


def _job_frames(frames, topic: str) -> list[tuple[float, dict]]:
    return [(t, m) for t, m in frames if m.get("topic") == topic]


def test_generate_watch_live_progress_preview_publish_and_find_in_feed(live_stack, page, alice):
    frames, requests = _watch(page)
    login_in_browser(page, live_stack, "alice", "alice-pass-123")

    topic = _generate(page, live_stack.url, "A neon fox runs through a rainy Tokyo street")
    job_id = topic.split(":", 1)[1]
    mine = _job_frames(frames, topic)
    progress_values = {m["progress"] for _, m in mine}
    statuses = [m["status"] for _, m in mine]
    assert len(progress_values) >= 4, mine
    assert {"in_progress", "processing", "ready"} <= set(statuses)
    assert mine[0][1].get("snapshot") is True  # a snapshot first, then events
    # No polling: nothing fetched the job's status; the job page itself loaded once.
    status_fetches = [u for u, kind in requests if kind in ("xhr", "fetch") and "/generate/" in u]
    assert status_fetches == []
    assert sum(1 for u, kind in requests if kind == "document" and u.endswith(f"/generate/jobs/{job_id}/")) == 1

    # The preview plays through hls.js.
    page.wait_for_function("document.getElementById('job-player').readyState >= 2", timeout=30_000)
    with page.expect_navigation():
        page.click("#publish-form button")
    assert page.get_attribute("#job", "data-status") == "published"
    video_href = page.get_attribute("a:has-text('See it in the feed')", "href")
    video_id = video_href.strip("/").split("/")[-1]
    page.goto(f"{live_stack.url}/")
    card = page.wait_for_selector(f"article.card[data-video-id='{video_id}']", timeout=15_000)
    assert "AI-generated" in card.inner_text()

    # More jobs for the measurements (same page, same socket kind).
    topics = [topic]
    for n in range(EXTRA_JOBS):
        topics.append(_generate(page, live_stack.url, f"Measurement clip {n}: a paper boat on a river"))
    _report(frames, requests, topics)

    # Any other page hears when a job ends: a toast linking to it.
    last = _generate(page, live_stack.url, "A lighthouse in a storm", wait=False)
    page.goto(f"{live_stack.url}/upload/")
    toast = page.wait_for_selector(".toast", timeout=120_000)
    assert toast.inner_text().startswith("Your AI video is ready")
    assert toast.get_attribute("href").endswith(f"/generate/jobs/{last.split(':', 1)[1]}/")


def _report(frames, requests, topics) -> None:
    latencies, rows = [], []
    for topic in topics:
        job_id = topic.split(":", 1)[1]
        mine = _job_frames(frames, topic)
        related = [(t, m) for t, m in frames if m.get("topic") == topic or m.get("job_id") == job_id]
        events = [(t, m) for t, m in mine if not m.get("snapshot")]
        unique = {(m["topic"], m["status"], m["progress"], m["ts"]) for _, m in events}
        latencies += [(t - m["ts"]) * 1000 for t, m in events]
        first = next(m["ts"] for _, m in mine if m.get("snapshot"))
        ready = next(m["ts"] for _, m in mine if m["status"] == "ready")
        duration = ready - first
        rows.append((topic, len(related), len(unique), duration, math.ceil(duration / 5)))
    ws_opened = sum(1 for u, kind in requests if kind == "websocket")
    print("\naigen figures:")
    for topic, n_frames, n_events, duration, polls in rows:
        print(f"  {topic}: {n_frames} ws frames ({n_events} distinct events) in {duration:.1f} s; "
              f"5 s polling = {polls} requests")  # fmt: skip
    print(f"  websocket connections opened on the whole visit: {ws_opened}; page loads: "
          f"{sum(1 for _, kind in requests if kind == 'document')}")  # fmt: skip
    print(
        f"  push latency over {len(latencies)} events: median {statistics.median(latencies):.1f} ms, "
        f"p90 {sorted(latencies)[int(0.9 * len(latencies))]:.1f} ms, max {max(latencies):.1f} ms"
    )
