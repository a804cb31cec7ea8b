from django.apps import AppConfig


class AigenConfig(AppConfig):
    name = "aigen"
    verbose_name = "AI generation"
