"""Embedded mode: no Redis answered, so the web process runs a Celery worker in a thread.

The broker is Celery's in-memory transport, which only works inside one process; that is why
the worker lives here and why management commands run tasks inline in this mode.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

log = logging.getLogger("clipstream.mode")
_started = threading.Event()


def start_embedded_worker_if_needed() -> None:
    if not settings.EMBEDDED:
        log.info("Mode: Redis at %s (channels-redis, separate Celery workers)", settings.REDIS_URL)
        return
    if _started.is_set():
        return
    _started.set()
    from config.celery import app

    app.conf.task_always_eager = False
    worker = app.Worker(
        pool="threads",
        concurrency=4,
        queues=["transcode", "aigen", "default"],
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=worker.start, name="embedded-celery", daemon=True)
    thread.start()
    log.warning(
        "Mode: embedded (no Redis at %s): in-memory channel layer, Celery worker inside the web process",
        settings.REDIS_URL,
    )
