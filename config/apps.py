from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "config"
    label = "clipstream_config"
    verbose_name = "Clipstream configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers system checks)
