"""Clipstream settings: every value comes from the environment, with defaults that run a laptop.

See README.md ("Configuration") for the table of variables.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_str
from config.mode import decide_embedded

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # Only a development key: the system check `clipstream.E001` refuses it when DEBUG is off
    # and the process serves real traffic (see config/checks.py).
    SECRET_KEY = "dev-insecure-clipstream-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "config.apps.ConfigConfig",
    "feed",
    "uploads",
    "aigen",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web process, the in-process worker and management commands share the file.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "feed.User"

# --- Redis: broker, channel layer, cache --------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_MODE = env_str("REDIS_MODE", "auto")
EMBEDDED = decide_embedded(REDIS_MODE, REDIS_URL)

if EMBEDDED:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels ignore the Redis DB number: the prefix keeps deployments apart.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_PREFIX", "cs")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "cs"),
        }
    }

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = "memory://" if EMBEDDED else env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "uploads.tasks.*": {"queue": "transcode"},
    "aigen.tasks.*": {"queue": "aigen"},
}
# A killed worker must give its task back: ack after the work, re-deliver on worker loss.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Outside the web process, embedded mode has no worker: management commands run tasks inline.
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_BEAT_SCHEDULE = {
    "aigen-sweep-stale": {"task": "aigen.tasks.sweep_stale_jobs", "schedule": 60.0},
    "uploads-sweep-stale": {"task": "uploads.tasks.sweep_stale_transcodes", "schedule": 120.0},
    "uploads-sweep-abandoned": {"task": "uploads.tasks.sweep_abandoned_uploads", "schedule": 3600.0},
}

# --- Static and media -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
STATICFILES_DIRS = [BASE_DIR / "static"]
# `runstack` (make run) and deployments run collectstatic, so WhiteNoise serves the gzip/brotli
# copies from STATIC_ROOT (hls.js: 389 KB raw, ~120 KB gzipped: 1.3 s less on a 3G first play).
# Without collected files (a bare checkout, the tests) it serves straight from the app folders.
WHITENOISE_USE_FINDERS = env_bool("STATIC_USE_FINDERS", not (STATIC_ROOT / "vendor").is_dir())
WHITENOISE_AUTOREFRESH = env_bool("STATIC_AUTOREFRESH", False)
WHITENOISE_MAX_AGE = 3600

MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Temporary space for transcodes and resumable uploads: always local disk.
WORK_DIR = Path(env_str("WORK_DIR", str(VAR_DIR / "work")))

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
USE_S3 = bool(AWS_STORAGE_BUCKET_NAME)
if USE_S3:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
    AWS_S3_CUSTOM_DOMAIN = env_str("MEDIA_CDN_DOMAIN", "") or None
    AWS_QUERYSTRING_AUTH = False
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = True
    # S3Storage that also stores Content-Type and Cache-Control per object (HLS segments/playlists).
    default_storage_backend = {"BACKEND": "uploads.s3_media.MediaS3Storage"}
else:
    default_storage_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": default_storage_backend,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Django serves media itself (with Range and cache headers) only for local storage.
SERVE_MEDIA = env_bool("SERVE_MEDIA", not USE_S3)

# --- Auth ---------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "feed:home"
LOGOUT_REDIRECT_URL = "feed:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Clipstream -------------------------------------------------------------------------------------
FFMPEG_BINARY = env_str("FFMPEG_BINARY", "")
FFPROBE_BINARY = env_str("FFPROBE_BINARY", "")

UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
UPLOAD_MIN_SECONDS = env_float("UPLOAD_MIN_SECONDS", 1.0)
UPLOAD_MAX_SECONDS = env_float("UPLOAD_MAX_SECONDS", 60.0)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 4096 * 2304)
UPLOAD_MAX_FPS = env_float("UPLOAD_MAX_FPS", 120.0)
TRANSCODE_RUNGS = [int(x) for x in env_list("TRANSCODE_RUNGS", ["360", "540", "720", "1080"])]
TRANSCODE_SEGMENT_SECONDS = env_int("TRANSCODE_SEGMENT_SECONDS", 2)
TRANSCODE_THREADS = env_int("TRANSCODE_THREADS", 0)
# A transcode whose heartbeat is older than this is taken over by a re-delivered task.
TRANSCODE_HEARTBEAT_STALE_SECONDS = env_float("TRANSCODE_HEARTBEAT_STALE_SECONDS", 45.0)

FEED_PAGE_SIZE = env_int("FEED_PAGE_SIZE", 6)
PLAYER_POOL_SIZE = env_int("PLAYER_POOL_SIZE", 3)
DEMO_USERS = env_bool("DEMO_USERS", DEBUG)

# AI generation: see aigen/ and README.md. Prices in USD per second of video.
AIGEN_PROVIDER = env_str("AIGEN_PROVIDER", "")
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
OPENAI_WEBHOOK_SECRET = env_str("OPENAI_WEBHOOK_SECRET", "")
GEMINI_API_KEY = env_str("GEMINI_API_KEY", env_str("GOOGLE_API_KEY", ""))
GOOGLE_GENAI_BASE_URL = env_str("GOOGLE_GENAI_BASE_URL", "")
AIGEN_DAILY_BUDGET_USD = env_float("AIGEN_DAILY_BUDGET_USD", 5.0)
AIGEN_MAX_CONCURRENT_PER_USER = env_int("AIGEN_MAX_CONCURRENT_PER_USER", 2)
AIGEN_MAX_CONCURRENT_GLOBAL = env_int("AIGEN_MAX_CONCURRENT_GLOBAL", 8)
AIGEN_PROMPT_MAX_CHARS = env_int("AIGEN_PROMPT_MAX_CHARS", 1000)
AIGEN_BLOCKED_WORDS = env_list("AIGEN_BLOCKED_WORDS", ["gore", "beheading", "csam", "nude"])
AIGEN_POLL_MIN_SECONDS = env_float("AIGEN_POLL_MIN_SECONDS", 2.0)
AIGEN_POLL_MAX_SECONDS = env_float("AIGEN_POLL_MAX_SECONDS", 15.0)
AIGEN_LOCAL_RENDER_SECONDS = env_float("AIGEN_LOCAL_RENDER_SECONDS", 4.0)
AIGEN_PRICES = {
    # provider -> model -> size -> USD per second
    "openai": {
        "sora-2": {"720x1280": 0.10, "1280x720": 0.10},
        "sora-2-pro": {"720x1280": 0.30, "1280x720": 0.30, "1024x1792": 0.50, "1792x1024": 0.50},
    },
    "veo": {
        "veo-3.1-fast-generate-001": {"720x1280": 0.15, "1080x1920": 0.15},
        "veo-3.1-generate-001": {"720x1280": 0.40, "1080x1920": 0.40},
    },
    "local": {"local-ffmpeg": {"720x1280": 0.0, "1080x1920": 0.0}},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
