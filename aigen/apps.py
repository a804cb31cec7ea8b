from django.apps import AppConfig


class AigenConfig(AppConfig):
    name = "aigen"
    verbose_name = "AI generation"

    def ready(self) -> None:
        from aigen import services
        from uploads import progress

        progress.register_topic("job", services.snapshot)
