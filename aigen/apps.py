from django.apps import AppConfig


class AigenConfig(AppConfig):
    name = "aigen"
    verbose_name = "AI generation"

    def ready(self) -> None:
        from aigen import checks, services  # noqa: F401 (checks registers itself)
        from uploads import progress

        progress.register_topic("job", services.snapshot)
