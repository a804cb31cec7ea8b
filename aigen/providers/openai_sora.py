"""OpenAI Videos API (Sora) through the official SDK.

The SDK marks this API deprecated (shutdown 2026-09-24); compatible gateways serve the same
contract, so OPENAI_BASE_URL points the client anywhere. The SDK's own retries are off
(`max_retries=0`): a worker slot must never sleep through a Retry-After, the task re-schedules.
"""

from __future__ import annotations

import warnings
from email.utils import parsedate_to_datetime
from pathlib import Path

import openai
from django.conf import settings
from django.utils import timezone

from aigen.providers.base import Downloaded, Provider, ProviderJob, RefusedError, TransientError

QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}


def client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY or "not-set",
        base_url=settings.OPENAI_BASE_URL or None,
        webhook_secret=settings.OPENAI_WEBHOOK_SECRET or None,
        max_retries=0,
        timeout=30.0,
    )


def retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms` / `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


def _error_code(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return str(err.get("code") or err.get("type") or exc.status_code)


def _translate(exc: Exception) -> Exception:
    """SDK exceptions → TransientError (try again later) or RefusedError (final)."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return TransientError(f"The provider did not answer ({exc.__class__.__name__}).")
    if isinstance(exc, openai.RateLimitError):
        code = _error_code(exc)
        if code in QUOTA_CODES:
            return RefusedError(exc.message, code)
        return TransientError("The provider is busy (429).", retry_after(exc.response.headers), "rate_limited")
    if isinstance(exc, openai.InternalServerError):
        return TransientError(f"The provider had an error ({exc.status_code}).", retry_after(exc.response.headers))
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 409:  # a conflicting concurrent request: ask again
            return TransientError(exc.message, retry_after(exc.response.headers), "conflict")
        return RefusedError(exc.message, _error_code(exc))
    return exc


def _state(video) -> ProviderJob:
    err = video.error
    return ProviderJob(
        id=video.id,
        status=video.status,
        progress=float(video.progress or 0),
        error_code=(err.code if err else "") or "",
        error_message=(err.message if err else "") or "",
    )


class OpenAISora(Provider):
    name = "openai"
    label = "OpenAI Sora"
    seconds = (4, 8, 12)
    supports_remix = True
    typical_seconds = 120.0

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL)

    def __init__(self) -> None:
        self.client = client()

    def _call(self, fn, *args, **kwargs):
        with warnings.catch_warnings():  # the SDK's deprecation notice is known (see module doc)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return fn(*args, **kwargs)
            except openai.OpenAIError as exc:
                raise _translate(exc) from exc

    def create(self, job, prompt: str) -> ProviderJob:
        # The job id as Idempotency-Key: a re-sent create after a lost answer is the same job.
        video = self._call(
            self.client.videos.create,
            prompt=prompt,
            model=job.model,
            seconds=str(job.seconds),
            size=job.size,
            extra_headers={"Idempotency-Key": f"clipstream-{job.pk}"},
        )
        return _state(video)

    def remix(self, job, source_provider_job_id: str, prompt: str) -> ProviderJob:
        video = self._call(
            self.client.videos.remix,
            source_provider_job_id,
            prompt=prompt,
            extra_headers={"Idempotency-Key": f"clipstream-{job.pk}"},
        )
        return _state(video)

    def retrieve(self, job) -> ProviderJob:
        return _state(self._call(self.client.videos.retrieve, job.provider_job_id))

    def download(self, job, workdir: Path) -> Downloaded:
        dest = workdir / "provider.mp4"
        content = self._call(self.client.videos.download_content, job.provider_job_id, variant="video", timeout=300)
        content.write_to_file(dest)
        thumb: Path | None = workdir / "thumbnail.webp"
        try:
            self._call(self.client.videos.download_content, job.provider_job_id, variant="thumbnail").write_to_file(
                thumb
            )
        except (RefusedError, TransientError):  # a thumbnail is a nicety, never a reason to fail
            thumb = None
        return Downloaded(dest, thumb)
