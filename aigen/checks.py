"""Fail loudly at start-up on a provider configuration that cannot work."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from aigen.providers import NAMES, provider_class


@register()
def check_aigen_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    chosen = settings.AIGEN_PROVIDER
    if chosen and chosen not in NAMES:
        errors.append(Error(f"AIGEN_PROVIDER={chosen!r} is not one of {', '.join(NAMES)}.", id="aigen.E001"))
    elif chosen and not provider_class(chosen).is_configured():
        hint = {"openai": "set OPENAI_API_KEY (or OPENAI_BASE_URL)", "veo": "set GEMINI_API_KEY"}.get(chosen, "")
        errors.append(Error(f"AIGEN_PROVIDER={chosen!r} has no credentials.", hint=hint, id="aigen.E002"))
    for name in NAMES:
        if not settings.AIGEN_PRICES.get(name):
            errors.append(Error(f"AIGEN_PRICES has no models for provider {name!r}.", id="aigen.E003"))
    return errors
