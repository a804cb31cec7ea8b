"""The Celery app. Queues: `transcode` (CPU bound, one task per core), `aigen` (I/O), `default`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clipstream")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
