"""Test settings: the real services, faster hashing, isolated media and work dirs."""

import os
import tempfile
from pathlib import Path

from config.env import env_bool
from config.settings import *  # noqa: F403
from config.settings import STORAGES

# Never serve a stale collectstatic copy left by `make run`: tests read the app's folders.
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_tmp = Path(os.environ.get("CLIPSTREAM_TEST_DIR") or tempfile.mkdtemp(prefix="clipstream-test-"))
MEDIA_ROOT = _tmp / "media"
WORK_DIR = _tmp / "work"
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)
# Unit/integration tests run tasks inline; the e2e stack (daphne + a real worker) sets CELERY_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True

# Several test runs may share this machine's Redis: keep their websocket groups apart.
if not EMBEDDED:  # noqa: F405
    import hashlib

    _tag = hashlib.md5(f"{DATABASE_URL}|{REDIS_URL}".encode()).hexdigest()[:8]  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"cst{_tag}"  # noqa: F405
