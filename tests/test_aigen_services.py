"""Submit rules (prompt, parameters, budget, concurrency, global cap), cancel, webhook, pages, command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from aigen import flow, limits, services
from aigen.limits import LimitError
from aigen.models import GenerationJob
from aigen.providers.local import LocalFFmpeg
from uploads import progress
from uploads.probe import probe

pytestmark = pytest.mark.django_db
Status = GenerationJob.Status
SECRET = "whsec_" + base64.b64encode(b"clipstream-test-secret").decode()


@pytest.fixture(autouse=True)
def _fresh_slots(fresh_aigen_slots):
    """Every test starts and ends with no global generation slot taken."""


@pytest.fixture
def openai_configured(settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # never called by these tests
    settings.OPENAI_WEBHOOK_SECRET = SECRET


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, words",
    [("", "empty"), ("   \n ", "empty"), ("x" * 1001, "longer than 1000"), ("a Gore fest", "gore")],
)
def test_bad_prompts_are_refused_in_plain_words(alice, prompt, words):
    with pytest.raises(LimitError, match=words):
        services.submit(alice, prompt, provider="local")
    assert not GenerationJob.objects.exists()


def test_parameters_are_checked_per_provider(alice, openai_configured):
    with pytest.raises(LimitError, match="clips of 4, 8, 12 seconds"):
        services.submit(alice, "a cat", provider="local", seconds=5)
    with pytest.raises(LimitError, match="makes 720x1280, 1280x720, not 1024x1792"):
        services.submit(alice, "a cat", provider="openai", model="sora-2", size="1024x1792")
    with pytest.raises(LimitError, match="no model 'sora-3'"):
        services.submit(alice, "a cat", provider="openai", model="sora-3")
    with pytest.raises(LimitError, match="not configured"):
        services.submit(alice, "a cat", provider="veo")  # no GEMINI_API_KEY here
    job = services.submit(alice, "a cat", provider="local")
    assert (job.size, job.seconds, job.model) == ("720x1280", 4, "local-ffmpeg")  # portrait default


# --- cost and limits --------------------------------------------------------------------------------


def test_daily_budget_counts_estimates_of_jobs_that_did_not_fail(alice, openai_configured, settings):
    settings.AIGEN_DAILY_BUDGET_USD = 1.0
    settings.AIGEN_MAX_CONCURRENT_PER_USER = 10
    first = services.submit(alice, "a cat", provider="openai", model="sora-2", seconds=4)  # $0.40
    services.submit(alice, "a dog", provider="openai", model="sora-2", seconds=4)  # $0.80 total
    with pytest.raises(LimitError, match=r"costs \$0.40 but only \$0.20 of your \$1.00 daily budget") as exc:
        services.submit(alice, "a cow", provider="openai", model="sora-2", seconds=4)
    assert exc.value.status == 402
    services.fail(first.pk, "moderation_blocked", "no")  # failed jobs cost nothing: room again
    services.submit(alice, "a cow", provider="openai", model="sora-2", seconds=4)


def test_per_user_concurrency_limit(alice, bob, settings):
    settings.AIGEN_MAX_CONCURRENT_PER_USER = 2
    a1 = services.submit(alice, "one", provider="local")
    services.submit(alice, "two", provider="local")
    with pytest.raises(LimitError, match="already have 2 videos generating") as exc:
        services.submit(alice, "three", provider="local")
    assert exc.value.status == 429
    services.submit(bob, "bob's one", provider="local")  # per user
    assert services.cancel(a1, by=alice)
    services.submit(alice, "three", provider="local")


def test_global_cap_is_shared_and_released_once(alice, bob, settings):
    settings.AIGEN_MAX_CONCURRENT_GLOBAL = 1
    job = services.submit(alice, "one", provider="local")
    assert limits.active_slots() == 1
    with pytest.raises(LimitError, match="Too many videos"):
        services.submit(bob, "two", provider="local")
    assert services.cancel(job, by=alice)
    assert not services.cancel(job, by=alice)  # a second cancel changes nothing
    assert limits.release_slot(str(job.pk)) is False
    assert limits.active_slots() == 0
    services.submit(bob, "two", provider="local")


def test_global_cap_is_atomic_under_concurrency(settings):
    settings.AIGEN_MAX_CONCURRENT_GLOBAL = 3
    results: list[bool] = []
    barrier = threading.Barrier(12)

    def grab():
        barrier.wait()
        results.append(limits.acquire_slot(str(uuid.uuid4())))

    threads = [threading.Thread(target=grab) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 3 and limits.active_slots() == 3


def test_a_rejected_submit_keeps_no_slot(alice, settings):
    settings.AIGEN_MAX_CONCURRENT_PER_USER = 0
    with pytest.raises(LimitError):
        services.submit(alice, "one", provider="local")
    assert limits.active_slots() == 0


# --- cancel, snapshot ------------------------------------------------------------------------------


def test_cancel_stops_the_follow_up_and_costs_nothing(alice, bob, admin_user):
    job = services.submit(alice, "one", provider="local")
    with pytest.raises(GenerationJob.DoesNotExist):
        services.cancel(job, by=bob)
    assert services.cancel(job, by=admin_user)
    job.refresh_from_db()
    assert (job.status, job.actual_cost, job.message) == (Status.CANCELED, 0, "Canceled by an admin")
    assert flow.step(str(job.pk), job.poll_count) is None  # the task finds nothing to do


def test_job_snapshot_only_for_its_owner(alice, bob):
    job = services.submit(alice, "one", provider="local")
    state = progress.snapshot(alice, job.topic)
    assert state["status"] == "queued" and state["job_id"] == str(job.pk)
    assert progress.snapshot(bob, job.topic) is None
    assert progress.snapshot(alice, "job:not-a-uuid") is None


def test_events_carry_progress_eta_and_message(alice, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(progress, "publish", lambda payload, owner_id=None: sent.append(payload))
    job = services.submit(alice, "one", provider="local")
    flow.step(str(job.pk), 0)
    time.sleep(0.6)
    flow.step(str(job.pk), 1)
    topics = {e["topic"] for e in sent}
    assert topics == {job.topic}
    last = sent[-1]
    assert last["status"] == "in_progress" and 2 < last["progress"] < 80 and last["eta_s"] > 0 and last["message"]


# --- local provider ----------------------------------------------------------------------------------


def test_local_provider_renders_a_real_h264_clip(alice, tmp_path: Path, settings):
    settings.AIGEN_LOCAL_RENDER_SECONDS = 0.5
    job = services.submit(alice, "A neon fox runs through rain", provider="local", style="neon")
    state = LocalFFmpeg().create(job, job.prompt)
    job.provider_job_id = state.id
    assert LocalFFmpeg().retrieve(job).status == "in_progress"
    time.sleep(0.6)
    assert LocalFFmpeg().retrieve(job).status == "completed"
    got = LocalFFmpeg().download(job, tmp_path)
    facts = probe(got.video)
    assert (facts.width, facts.height) == (720, 1280) and 3.5 < facts.duration < 4.5


# --- webhook -----------------------------------------------------------------------------------------


def _signed(body: str, secret: str = SECRET) -> dict:
    msg_id, ts = "msg_1", str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
    return {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": ts, "HTTP_WEBHOOK_SIGNATURE": f"v1,{sig}"}


def _event(video_id: str) -> str:
    return json.dumps(
        {"id": "evt_1", "object": "event", "created_at": int(time.time()), "type": "video.completed",
         "data": {"id": video_id}}
    )  # fmt: skip


def test_webhook_with_valid_signature_kicks_the_job(
    client, alice, openai_configured, django_capture_on_commit_callbacks
):
    job = services.submit(alice, "a cat", provider="openai", model="sora-2")
    GenerationJob.objects.filter(pk=job.pk).update(status=Status.IN_PROGRESS, provider_job_id="video_abc", poll_count=3)
    body = _event("video_abc")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("aigen:openai-webhook"), body, "application/json", **_signed(body))
    assert response.status_code == 200
    assert len([fn for fn in callbacks if "schedule" in fn.__qualname__]) == 1


def test_webhook_with_bad_signature_is_rejected(client, alice, openai_configured, django_capture_on_commit_callbacks):
    body = _event("video_abc")
    forged = _signed(body, "whsec_" + base64.b64encode(b"not-the-secret").decode())
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(reverse("aigen:openai-webhook"), body, "application/json", **forged).status_code == 400
        assert client.post(reverse("aigen:openai-webhook"), body, "application/json").status_code == 400
    assert callbacks == []


# --- pages and command -------------------------------------------------------------------------------


def test_generate_page_shows_the_price_table_and_submits(client, alice):
    client.force_login(alice)
    page = client.get(reverse("aigen:generate"))
    assert page.status_code == 200
    assert b'id="generate-form"' in page.content and b'id="aigen-prices"' in page.content
    assert page.context["prices"]["local"]["models"]["local-ffmpeg"]["720x1280"] == 0.0
    form = {"prompt": "a cat", "model": "local/local-ffmpeg", "size": "720x1280", "seconds": "4"}
    response = client.post(reverse("aigen:generate"), form)
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    refused = client.post(reverse("aigen:generate"), {"prompt": "", "model": "local/local-ffmpeg"})
    assert refused.status_code == 400 and b"prompt is empty" in refused.content


def test_regenerate_from_the_job_page_makes_a_linked_job(client, alice):
    job = services.submit(alice, "a cat", provider="local")
    client.force_login(alice)
    refused = client.post(reverse("aigen:regenerate", args=[job.pk]), {"prompt": "a cat, at night"})
    assert refused.status_code == 409 and b"Wait for this video to finish" in refused.content
    GenerationJob.objects.filter(pk=job.pk).update(status=Status.READY)
    response = client.post(reverse("aigen:regenerate", args=[job.pk]), {"prompt": "a cat, at night"})
    new = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302 and response.url == new.get_absolute_url()
    assert (new.remix_of_id, new.prompt, new.provider) == (job.pk, "a cat, at night", "local")


def test_other_users_cannot_see_or_act_on_a_job(client, alice, bob):
    job = services.submit(alice, "mine", provider="local")
    client.force_login(bob)
    assert client.get(job.get_absolute_url()).status_code == 404
    assert client.post(reverse("aigen:cancel", args=[job.pk])).status_code == 404
    assert client.post(reverse("aigen:publish", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_generate_command_calls_the_service(alice):
    call_command("generate", "a lighthouse in a storm", "--provider", "local", "--user", "alice", "--seconds", "8")
    job = GenerationJob.objects.get()
    assert (job.owner, job.seconds, job.provider) == (alice, 8, "local")


def test_system_check_refuses_a_provider_without_credentials(settings):
    from aigen.checks import check_aigen_settings

    settings.AIGEN_PROVIDER = "openai"
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    assert [e.id for e in check_aigen_settings(None)] == ["aigen.E002"]
    settings.AIGEN_PROVIDER = "sora"
    assert [e.id for e in check_aigen_settings(None)] == ["aigen.E001"]
    settings.AIGEN_PROVIDER = "local"
    assert check_aigen_settings(None) == []


def test_admin_lists_jobs_with_daily_totals_and_cancels(admin_client, alice):
    job = services.submit(alice, "one", provider="local")
    page = admin_client.get(reverse("admin:aigen_generationjob_changelist"))
    assert page.status_code == 200 and b"Totals per day" in page.content
    assert page.context["daily_totals"][0]["jobs"] == 1
    response = admin_client.post(
        reverse("admin:aigen_generationjob_changelist"),
        {"action": "cancel_jobs", "_selected_action": [str(job.pk)]},
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.CANCELED and job.message == "Canceled by an admin"
