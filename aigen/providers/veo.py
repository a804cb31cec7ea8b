"""Google Veo through the official `google-genai` SDK, in Vertex mode.

Why Vertex and `models.generate_videos`: in google-genai 3.3 that call only works with
`Client(vertexai=True, ...)` (a Gemini Developer key raises). Vertex express mode takes an API
key (GEMINI_API_KEY here), or ADC with GOOGLE_CLOUD_PROJECT/LOCATION when no key is set. It is a
typed long-running operation: `generate_videos` → `operations.get` until `done`, the video comes
back inline as bytes (we never set output_gcs_uri). `HttpOptions(base_url=...)` points it at a
gateway or at the tests' local stand-in. See docs/aigen.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
from django.conf import settings
from google import genai
from google.genai import errors, types

from aigen.providers.base import Downloaded, Provider, ProviderJob, RefusedError, TransientError
from aigen.providers.openai_sora import retry_after

# Our size → Veo's (aspect ratio, resolution). Veo names resolutions, not pixel sizes.
SIZES = {"720x1280": ("9:16", "720p"), "1080x1920": ("9:16", "1080p"), "1280x720": ("16:9", "720p")}


def client() -> genai.Client:
    http = types.HttpOptions(
        base_url=settings.GOOGLE_GENAI_BASE_URL or None,
        timeout=30_000,  # ms
        retry_options=types.HttpRetryOptions(attempts=1),  # the task re-schedules; no sleeping here
    )
    return genai.Client(vertexai=True, api_key=settings.GEMINI_API_KEY or None, http_options=http)


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, httpx2.TransportError):
        return TransientError(f"The provider did not answer ({exc.__class__.__name__}).")
    if isinstance(exc, errors.APIError):
        headers = getattr(exc.response, "headers", None)
        if exc.code == 429:
            if "quota" in (exc.message or "").lower() and "exceeded" not in (exc.message or "").lower():
                return RefusedError(exc.message or "Quota exhausted.", "insufficient_quota")
            return TransientError("The provider is busy (429).", retry_after(headers), "rate_limited")
        if exc.code and exc.code >= 500:
            return TransientError(f"The provider had an error ({exc.code}).", retry_after(headers))
        code = {400: "invalid_request", 401: "auth", 403: "permission_denied", 404: "not_found"}.get(exc.code, "")
        return RefusedError(exc.message or str(exc), code or str(exc.code))
    return exc


class Veo(Provider):
    name = "veo"
    label = "Google Veo 3.1"
    seconds = (4, 6, 8)
    typical_seconds = 75.0

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.GEMINI_API_KEY)

    def __init__(self) -> None:
        self.client = client()

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (errors.APIError, httpx2.TransportError) as exc:
            raise _translate(exc) from exc

    def create(self, job, prompt: str) -> ProviderJob:
        aspect, resolution = SIZES[job.size]
        op = self._call(
            self.client.models.generate_videos,
            model=job.model,
            source=types.GenerateVideosSource(prompt=prompt),
            config=types.GenerateVideosConfig(
                aspect_ratio=aspect, resolution=resolution, duration_seconds=job.seconds, number_of_videos=1
            ),
        )
        return ProviderJob(id=op.name, status="queued", progress=0)

    def _operation(self, job) -> types.GenerateVideosOperation:
        return self._call(self.client.operations.get, types.GenerateVideosOperation(name=job.provider_job_id))

    def retrieve(self, job) -> ProviderJob:
        op = self._operation(job)
        if not op.done:
            # Veo reports no percentage: estimate from elapsed time, never past 90 %.
            started = job.submitted_at.timestamp() if job.submitted_at else time.time()
            pct = min(90.0, 100.0 * (time.time() - started) / self.typical_seconds)
            return ProviderJob(id=op.name, status="in_progress", progress=pct)
        if op.error:
            message = str(op.error.get("message") or op.error)
            code = "insufficient_quota" if "quota" in message.lower() else f"veo_{op.error.get('code', 'error')}"
            return ProviderJob(id=op.name, status="failed", error_code=code, error_message=message)
        result = op.result or op.response
        videos = (result.generated_videos if result else None) or []
        if not videos:
            reasons = "; ".join((result.rai_media_filtered_reasons or []) if result else [])
            return ProviderJob(
                id=op.name, status="failed", error_code="moderation_blocked", error_message=reasons or "Filtered."
            )
        return ProviderJob(id=op.name, status="completed", progress=100)

    def download(self, job, workdir: Path) -> Downloaded:
        op = self._operation(job)
        result = op.result or op.response
        video = result.generated_videos[0].video if result and result.generated_videos else None
        if video is None or not video.video_bytes:
            raise RefusedError("Veo returned no video bytes (is output_gcs_uri set on the project?).", "no_content")
        dest = workdir / "provider.mp4"
        dest.write_bytes(video.video_bytes)
        return Downloaded(dest, None)
