"""The one small interface every video provider implements.

A provider is stateless: the task stores `provider_job_id` on the GenerationJob and asks the
provider about it again on each follow-up, so any worker (or a restarted one) can continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings

if TYPE_CHECKING:
    from aigen.models import GenerationJob


@dataclass
class ProviderJob:
    """What a provider says about one job, in our words."""

    id: str
    status: str  # queued | in_progress | completed | failed
    progress: float = 0.0  # 0-100, the provider's own estimate
    error_code: str = ""
    error_message: str = ""


@dataclass
class Downloaded:
    video: Path
    thumbnail: Path | None = None


class ProviderError(Exception):
    """Base of provider errors. `code` is machine-readable, `str(exc)` is for people."""

    code = "provider_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class TransientError(ProviderError):
    """Worth retrying later: 429, 5xx, timeouts. `retry_after` is the provider's hint in seconds."""

    code = "transient"

    def __init__(self, message: str, retry_after: float | None = None, code: str | None = None):
        super().__init__(message, code)
        self.retry_after = retry_after


class RefusedError(ProviderError):
    """Final: moderation, invalid parameters, quota or billing. The job fails and costs nothing."""

    code = "refused"


class Provider:
    name: ClassVar[str]
    label: ClassVar[str]
    seconds: ClassVar[tuple[int, ...]]
    supports_remix: ClassVar[bool] = False
    # Follow-up interval bounds (s): backoff grows from the first to the second.
    poll_min: ClassVar[float] = 2.0
    poll_max: ClassVar[float] = 15.0
    # Typical wall time of a generation, for the first ETA before progress says more.
    typical_seconds: ClassVar[float] = 90.0

    @classmethod
    def models(cls) -> dict[str, dict[str, float]]:
        """model -> size -> USD per second, from settings (these change monthly)."""
        return settings.AIGEN_PRICES.get(cls.name, {})

    @classmethod
    def is_configured(cls) -> bool:
        return True

    @classmethod
    def typical(cls) -> float:
        return cls.typical_seconds

    def create(self, job: GenerationJob, prompt: str) -> ProviderJob:
        raise NotImplementedError

    def remix(self, job: GenerationJob, source_provider_job_id: str, prompt: str) -> ProviderJob:
        raise NotImplementedError

    def retrieve(self, job: GenerationJob) -> ProviderJob:
        raise NotImplementedError

    def download(self, job: GenerationJob, workdir: Path) -> Downloaded:
        raise NotImplementedError
