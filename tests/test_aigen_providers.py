"""The openai and veo providers, through their real SDKs, against local stand-ins of their APIs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from aigen import flow, limits, services
from aigen.models import GenerationJob
from aigen.tasks import run_job, sweep_stale_jobs
from feed.models import Video
from tests.test_aigen_fakes import FakeOpenAI, FakeVeo
from uploads import pipeline

pytestmark = pytest.mark.django_db
Status = GenerationJob.Status


@pytest.fixture(autouse=True)
def _fresh_slots(fresh_aigen_slots):
    """Every test starts and ends with no global generation slot taken."""


@pytest.fixture
def fake_openai(small_clip, settings):
    server = FakeOpenAI(small_clip)
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = server.url + "/v1"
    settings.AIGEN_DAILY_BUDGET_USD = 100
    yield server
    server.close()


@pytest.fixture
def fake_veo(small_clip, settings):
    server = FakeVeo(small_clip)
    settings.GEMINI_API_KEY = "test-key"
    settings.GOOGLE_GENAI_BASE_URL = server.url
    settings.AIGEN_DAILY_BUDGET_USD = 100
    yield server
    server.close()


def drive(job: GenerationJob, until=(Status.PROCESSING,), max_steps: int = 20) -> list[float]:
    """Run steps as the task would (without waiting the countdowns); return the delays asked for."""
    delays = []
    for _ in range(max_steps):
        job.refresh_from_db()
        if job.status in until or not job.is_active:
            return delays
        delay = flow.step(str(job.pk), job.poll_count)
        if delay is None:
            job.refresh_from_db()
            return delays
        delays.append(delay)
    raise AssertionError(f"job stuck in {job.status}")


def test_openai_job_goes_from_prompt_to_ready_preview(fake_openai, alice):
    job = services.submit(alice, "A fox in the rain", provider="openai", model="sora-2", seconds=4)
    assert job.estimated_cost == Decimal("0.400")
    delays = drive(job)
    assert job.status == Status.PROCESSING
    # Provider follow-ups start at the 2 s floor (the worker re-schedules, never sleeps); then
    # our own transcode is watched every second.
    assert delays[:-1] and all(2.0 <= d <= 15.0 for d in delays[:-1]) and delays[-1] == flow.PROCESSING_POLL
    assert fake_openai.count("POST", "/v1/videos") == 1
    create = next(h for m, p, h in fake_openai.requests if m == "POST")
    assert create["idempotency-key"] == f"clipstream-{job.pk}"
    assert fake_openai.count("GET", f"/v1/videos/{job.provider_job_id}/content") == 2  # video + thumbnail
    video = job.video
    assert video.source_kind == Video.SourceKind.AI and video.visibility == Video.Visibility.PRIVATE
    assert job.thumbnail and default_storage.exists(job.thumbnail)
    assert job.actual_cost == Decimal("0.400") and job.provider_completed_at is not None

    pipeline.transcode_video(video.pk)  # the same transcode an upload gets
    drive(job, until=())
    assert job.status == Status.READY and job.progress == 100
    assert limits.active_slots() == 0
    services.publish(alice, job)
    video.refresh_from_db()
    assert video.visibility == Video.Visibility.PUBLIC and video.published_at is not None
    assert Video.objects.for_viewer(alice).filter(pk=video.pk).exists()
    alice.hide_ai_videos = True  # viewers who hide AI videos never get it
    assert not Video.objects.for_viewer(alice).filter(pk=video.pk).exists()


def test_openai_429_retry_after_is_honoured(fake_openai, alice):
    job = services.submit(alice, "A fox", provider="openai", model="sora-2", seconds=4)
    drive(job, until=(Status.SUBMITTED, Status.IN_PROGRESS))  # created
    fake_openai.errors.append((429, {"Retry-After": "7"}, {"error": {"message": "Slow down", "code": "rate_limit"}}))
    delay = flow.step(str(job.pk), job.poll_count)
    assert delay == pytest.approx(7.0)
    job.refresh_from_db()
    assert job.is_active and "Retrying in 7 s" in job.message
    drive(job)
    assert job.status == Status.PROCESSING


def test_openai_500_on_create_is_retried_with_the_same_idempotency_key(fake_openai, alice):
    job = services.submit(alice, "A fox", provider="openai", model="sora-2", seconds=4)
    fake_openai.errors.append((502, {}, {"error": {"message": "bad gateway"}}))  # refused before creating
    fake_openai.lose_create_answers = 1  # created, but the answer is lost
    delays = drive(job)
    assert job.status == Status.PROCESSING
    assert delays[:2] == [2.0, 2.0]
    keys = [h.get("idempotency-key") for m, p, h in fake_openai.requests if m == "POST"]
    assert len(keys) == 3 and len(set(keys)) == 1
    assert len(fake_openai.videos) == 1  # one provider job, one charge


def test_openai_moderation_refusal_is_plain_and_free(fake_openai, alice):
    job = services.submit(alice, "something forbidden", provider="openai", model="sora-2", seconds=4)
    drive(job)
    assert job.status == Status.FAILED
    assert job.error_code == "moderation_blocked"
    assert "content policy" in job.message and job.actual_cost == 0
    assert limits.active_slots() == 0
    assert services.spent_today(alice) == 0


def test_openai_invalid_size_and_quota_refusals(fake_openai, alice, settings):
    settings.AIGEN_PRICES = {**settings.AIGEN_PRICES, "openai": {"sora-2": {"720x1280": 0.1, "1792x1024": 0.1}}}
    job = services.submit(alice, "wide shot", provider="openai", model="sora-2", size="1792x1024", seconds=4)
    drive(job)
    assert (job.status, job.error_code) == (Status.FAILED, "invalid_size")
    assert "size is not available" in job.message

    quota = {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}}
    fake_openai.errors.append((429, {}, quota))
    job = services.submit(alice, "a cat", provider="openai", model="sora-2", seconds=4)
    drive(job)
    assert (job.status, job.error_code, job.actual_cost) == (Status.FAILED, "insufficient_quota", 0)
    assert "out of credit" in job.message


def test_regenerate_uses_openai_remix(fake_openai, alice):
    job = services.submit(alice, "A fox", provider="openai", model="sora-2", seconds=4)
    drive(job)
    pipeline.transcode_video(job.video_id)
    drive(job, until=())
    assert job.status == Status.READY
    remix = services.regenerate(alice, job, "A fox in the snow")
    drive(remix)
    assert remix.remix_of_id == job.pk
    assert fake_openai.count("POST", f"/v1/videos/{job.provider_job_id}/remix") == 1
    assert fake_openai.videos[remix.provider_job_id]["remixed_from_video_id"] == job.provider_job_id
    assert remix.status == Status.PROCESSING and remix.video_id != job.video_id


def test_task_run_twice_submits_once(fake_openai, alice, django_capture_on_commit_callbacks):
    job = services.submit(alice, "A fox", provider="openai", model="sora-2", seconds=4)
    with django_capture_on_commit_callbacks() as scheduled:
        run_job.apply(args=(str(job.pk), 0))
        run_job.apply(args=(str(job.pk), 0))  # a duplicate delivery of the same message
    assert fake_openai.count("POST", "/v1/videos") == 1
    follow_ups = [fn for fn in scheduled if "schedule" in fn.__qualname__]
    assert len(follow_ups) == 1  # one follow-up chain, not two


def test_restarted_worker_resumes_the_same_provider_job(fake_openai, alice, django_capture_on_commit_callbacks):
    job = services.submit(alice, "A fox", provider="openai", model="sora-2", seconds=4)
    flow.step(str(job.pk), 0)  # submitted; then the worker dies and its follow-up is lost
    job.refresh_from_db()
    provider_id = job.provider_job_id
    GenerationJob.objects.filter(pk=job.pk).update(updated_at=job.updated_at.replace(year=2020))
    with django_capture_on_commit_callbacks(execute=False) as kicked:
        assert sweep_stale_jobs() == 1
    assert len(kicked) == 1
    drive(job)
    assert job.provider_job_id == provider_id and job.status == Status.PROCESSING
    assert fake_openai.count("POST", "/v1/videos") == 1


def test_veo_job_through_google_genai(fake_veo, alice):
    job = services.submit(alice, "A heron at dawn", provider="veo", model="veo-3.1-fast-generate-001", seconds=4)
    assert job.estimated_cost == Decimal("0.600")
    delays = drive(job)
    assert job.status == Status.PROCESSING and job.video.source_kind == Video.SourceKind.AI
    assert all(d >= 2.0 for d in delays[:-1])
    op = fake_veo.ops[job.provider_job_id]
    assert op["params"] == {"sampleCount": 1, "durationSeconds": 4, "aspectRatio": "9:16", "resolution": "720p"}
    assert fake_veo.count("POST", "/v1beta1/publishers/google/models/veo-3.1-fast-generate-001:predictLongRunning") == 1


def test_veo_filtered_and_rate_limited(fake_veo, alice):
    fake_veo.errors.append((429, {"Retry-After": "5"}, {"error": {"code": 429, "message": "busy", "status": "X"}}))
    job = services.submit(alice, "something forbidden", provider="veo", model="veo-3.1-fast-generate-001", seconds=4)
    assert flow.step(str(job.pk), 0) == pytest.approx(5.0)
    drive(job)
    assert (job.status, job.error_code, job.actual_cost) == (Status.FAILED, "moderation_blocked", 0)
    assert "content policy" in job.message
