"""Video providers behind one interface (aigen.providers.base.Provider); pick one by name."""

from __future__ import annotations

from django.conf import settings

from aigen.providers.base import Provider

NAMES = ("local", "openai", "veo")


def provider_class(name: str) -> type[Provider]:
    if name == "openai":
        from aigen.providers.openai_sora import OpenAISora

        return OpenAISora
    if name == "veo":
        from aigen.providers.veo import Veo

        return Veo
    if name == "local":
        from aigen.providers.local import LocalFFmpeg

        return LocalFFmpeg
    raise KeyError(name)


def get_provider(name: str) -> Provider:
    return provider_class(name)()


def default_provider() -> str:
    """AIGEN_PROVIDER wins; else the first provider with a key; else `local` (works offline)."""
    if settings.AIGEN_PROVIDER:
        return settings.AIGEN_PROVIDER
    if settings.OPENAI_API_KEY:
        return "openai"
    if settings.GEMINI_API_KEY:
        return "veo"
    return "local"


def available() -> list[str]:
    """Providers a user may pick: the configured ones, the default first."""
    names = [n for n in NAMES if provider_class(n).is_configured()]
    first = default_provider()
    return sorted(names, key=lambda n: n != first)
