"""Checks before a generation is accepted: prompt, parameters, price, budget and concurrency.

The global concurrency cap lives in the shared cache (Redis in production) so every web process
and worker counts the same slots. A slot is held per job (`aigen:slot:<job id>`) and released
exactly once: `cache.delete` answers whether the key was there, so a double release cannot
decrement the counter twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from aigen.providers import available, provider_class

COUNTER_KEY = "aigen:global-active"
SLOT_TTL = 6 * 3600  # a slot nobody released (lost process) expires; the sweeper re-counts too

STYLES: dict[str, str] = {
    "": "",
    "cinematic": "cinematic lighting, shallow depth of field, 35mm film",
    "anime": "hand-drawn anime style, vivid colours",
    "documentary": "handheld documentary footage, natural light",
    "neon": "neon-lit night scene, synthwave colours",
    "claymation": "stop-motion claymation, soft studio light",
}


class LimitError(ValueError):
    """A request we refuse; `str(exc)` is shown to the user, `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400, field: str = ""):
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Spec:
    provider: str
    model: str
    size: str
    seconds: int
    style: str = ""


def clean_prompt(prompt: str) -> str:
    prompt = " ".join((prompt or "").split())
    if not prompt:
        raise LimitError("Describe the video you want: the prompt is empty.", field="prompt")
    if len(prompt) > settings.AIGEN_PROMPT_MAX_CHARS:
        raise LimitError(f"The prompt is longer than {settings.AIGEN_PROMPT_MAX_CHARS} characters.", field="prompt")
    words = set(re.findall(r"[\w']+", prompt.lower()))
    blocked = sorted(w for w in settings.AIGEN_BLOCKED_WORDS if w.lower() in words)
    if blocked:
        raise LimitError(f"The prompt contains a word we do not generate: {', '.join(blocked)}.", field="prompt")
    return prompt


def price_table() -> dict[str, dict]:
    """What the /generate/ page renders as JSON: per available provider, its models, sizes, seconds."""
    table = {}
    for name in available():
        cls = provider_class(name)
        table[name] = {"label": cls.label, "seconds": list(cls.seconds), "models": cls.models()}
    return table


def check_spec(spec: Spec) -> Spec:
    try:
        cls = provider_class(spec.provider)
    except KeyError:
        raise LimitError(f"Unknown provider {spec.provider!r}.", field="model") from None
    if spec.provider not in available():
        raise LimitError(f"The {cls.label} provider is not configured here.", field="model")
    models = cls.models()
    if spec.model not in models:
        raise LimitError(f"{cls.label} has no model {spec.model!r}.", field="model")
    if spec.size not in models[spec.model]:
        sizes = ", ".join(models[spec.model])
        raise LimitError(f"{spec.model} makes {sizes}, not {spec.size}.", field="size")
    if spec.seconds not in cls.seconds:
        allowed = ", ".join(str(s) for s in cls.seconds)
        raise LimitError(f"{cls.label} makes clips of {allowed} seconds.", field="seconds")
    if spec.style not in STYLES:
        raise LimitError(f"Unknown style {spec.style!r}.", field="style")
    return spec


def estimate(spec: Spec) -> Decimal:
    per_second = Decimal(str(provider_class(spec.provider).models()[spec.model][spec.size]))
    return (per_second * spec.seconds).quantize(Decimal("0.001"))


# --- the global cap ------------------------------------------------------------------------------


def acquire_slot(job_id: str) -> bool:
    """Take one of AIGEN_MAX_CONCURRENT_GLOBAL slots for `job_id`; False when all are taken."""
    cache.add(COUNTER_KEY, 0, timeout=None)
    try:
        taken = cache.incr(COUNTER_KEY)
    except ValueError:  # the counter expired between add and incr: recreate once
        cache.add(COUNTER_KEY, 0, timeout=None)
        taken = cache.incr(COUNTER_KEY)
    if taken > settings.AIGEN_MAX_CONCURRENT_GLOBAL:
        cache.decr(COUNTER_KEY)
        return False
    cache.set(f"aigen:slot:{job_id}", 1, timeout=SLOT_TTL)
    return True


def release_slot(job_id: str) -> bool:
    """Give the job's slot back; safe to call any number of times."""
    if cache.delete(f"aigen:slot:{job_id}"):
        try:
            cache.decr(COUNTER_KEY)
        except ValueError:
            pass
        return True
    return False


def active_slots() -> int:
    return int(cache.get(COUNTER_KEY) or 0)


def resync_slots(active_job_ids: list[str]) -> None:
    """Sweeper: make the counter equal the slots of jobs still active (repairs a lost release)."""
    held = [j for j in active_job_ids if cache.get(f"aigen:slot:{j}")]
    cache.set(COUNTER_KEY, len(held), timeout=None)
