"""Django settings, read from the environment only (see ``ovdiff_web.env``).

Production: set DEBUG=0, SECRET_KEY, ALLOWED_HOSTS (and DATABASE_URL / REDIS_URL); the secure defaults
below then make ``manage.py check --deploy`` pass. Development: DEBUG=1 needs nothing else.
"""
from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ovdiff_web.env import env_bool, env_choice, env_float, env_int, env_list, env_networks, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-ovdiff-0123456789"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET) if DEBUG else env_str("SECRET_KEY", required=True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- storage -------------------------------------------------------------------------------------------
OVDIFF_DATA_DIR = env_path("OVDIFF_DATA_DIR", BASE_DIR / "data")
MEDIA_ROOT = env_path("MEDIA_ROOT", OVDIFF_DATA_DIR / "media")
MEDIA_URL = "/media/"
OVDIFF_STORE_DIR = env_path("OVDIFF_STORE_DIR", OVDIFF_DATA_DIR / "store")
# s3://bucket/prefix: the artifact store lives in S3-compatible object storage (endpoint: AWS_ENDPOINT_URL,
# credentials: the usual AWS_* variables); OVDIFF_STORE_DIR is then this machine's local read cache.
OVDIFF_STORE_URL = env_str("OVDIFF_STORE_URL", "")
if OVDIFF_STORE_URL and not OVDIFF_STORE_URL.startswith("s3://"):
    raise ImproperlyConfigured("OVDIFF_STORE_URL must look like s3://bucket/prefix")
# s3://bucket/prefix: media (uploaded datasets and support images, run outputs) live in S3-compatible object storage
# (same AWS_* variables); MEDIA_ROOT is then this machine's local copy (ovdiff_web/common/media_store.py).
OVDIFF_MEDIA_URL = env_str("OVDIFF_MEDIA_URL", "")
if OVDIFF_MEDIA_URL and not OVDIFF_MEDIA_URL.startswith("s3://"):
    raise ImproperlyConfigured("OVDIFF_MEDIA_URL must look like s3://bucket/prefix")
# Every object-storage call (media and artifacts) gives up after these: a dead endpoint fails a request within
# seconds (503 naming the setting to check) instead of hanging it (engine.storage.object_store.s3_client).
OVDIFF_OBJECT_STORE_CONNECT_TIMEOUT_S = env_int("OVDIFF_OBJECT_STORE_CONNECT_TIMEOUT_S", 5, minimum=1)
OVDIFF_OBJECT_STORE_READ_TIMEOUT_S = env_int("OVDIFF_OBJECT_STORE_READ_TIMEOUT_S", 30, minimum=1)
OVDIFF_OBJECT_STORE_MAX_ATTEMPTS = env_int("OVDIFF_OBJECT_STORE_MAX_ATTEMPTS", 2, minimum=1)
STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", OVDIFF_DATA_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "ovdiff_web" / "static"]  # dashboard css/js (vendored, no CDN)

# --- engine --------------------------------------------------------------------------------------------
OVDIFF_PROFILE = env_choice("OVDIFF_PROFILE", "tiny", ("tiny", "paper", "paper-shape", "sdov", "dinov2-small"))
# Model ids or local Hugging Face directories per role; empty = the profile's default.
OVDIFF_GENERATOR = env_str("OVDIFF_GENERATOR", "")
OVDIFF_DINO = env_str("OVDIFF_DINO", "")
OVDIFF_CLIP = env_str("OVDIFF_CLIP", "")
OVDIFF_DEVICE = env_str("OVDIFF_DEVICE", "cpu")
# Server directories from which datasets may be registered by path (nothing outside them).
OVDIFF_DATASET_ROOTS = [Path(p).expanduser().resolve() for p in env_list("OVDIFF_DATASET_ROOTS", [], sep=",")]
OVDIFF_SHARD_SIZE = env_int("OVDIFF_SHARD_SIZE", 8, minimum=1)

# --- uploads -------------------------------------------------------------------------------------------
OVDIFF_MAX_UPLOAD_MB = env_int("OVDIFF_MAX_UPLOAD_MB", 512, minimum=1)
OVDIFF_ZIP_MAX_FILES = env_int("OVDIFF_ZIP_MAX_FILES", 20_000, minimum=1)
OVDIFF_ZIP_MAX_UNCOMPRESSED_MB = env_int("OVDIFF_ZIP_MAX_UNCOMPRESSED_MB", 4096, minimum=1)
OVDIFF_ZIP_MAX_RATIO = env_int("OVDIFF_ZIP_MAX_RATIO", 200, minimum=1)
# datasets with at most this many files are validated inside the upload request; larger ones on the cpu queue
OVDIFF_INGEST_SYNC_MAX_FILES = env_int("OVDIFF_INGEST_SYNC_MAX_FILES", 2000, minimum=0)
# Big uploads spool here (not the system /tmp), so the cleanup sweep finds what a killed request left.
FILE_UPLOAD_TEMP_DIR = str(env_path("FILE_UPLOAD_TEMP_DIR", OVDIFF_DATA_DIR / "upload-tmp"))
try:
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
except OSError:  # a read-only data dir (check --deploy in CI): Django reports the missing folder on upload
    pass
# Staging files and interrupted ingests older than this are swept (services.cleanup).
OVDIFF_STALE_AFTER_S = env_int("OVDIFF_STALE_AFTER_S", 6 * 3600, minimum=60)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- apps ----------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ovdiff_web.core",
    "ovdiff_web.integrations",
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
    "ovdiff_web.security.ContentSecurityPolicyMiddleware",
    "ovdiff_web.common.api.parsers.RejectBadQueryText",
    "ovdiff_web.common.storage_unavailable.ObjectStoreUnavailableMiddleware",
]
AUTHENTICATION_BACKENDS = ["ovdiff_web.security.LockoutModelBackend"]
# Sign-in hardening (ovdiff_web.security): lock-out after repeated failures, token lifetime (0 = never expire).
OVDIFF_LOGIN_MAX_FAILURES = env_int("OVDIFF_LOGIN_MAX_FAILURES", 5, minimum=1)
OVDIFF_LOGIN_LOCKOUT_S = env_int("OVDIFF_LOGIN_LOCKOUT_S", 900, minimum=1)
OVDIFF_TOKEN_TTL_HOURS = env_int("OVDIFF_TOKEN_TTL_HOURS", 24 * 30, minimum=0)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed: a request from one of them is keyed
# (lock-out, token throttle) on the right-most X-Forwarded-For entry that is not itself trusted. Empty: REMOTE_ADDR.
OVDIFF_TRUSTED_PROXIES = env_networks("OVDIFF_TRUSTED_PROXIES")

ROOT_URLCONF = "ovdiff_web.urls"
WSGI_APPLICATION = "ovdiff_web.wsgi.application"

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
            ]
        },
    }
]

# --- database ------------------------------------------------------------------------------------------
_default_db = f"sqlite:///{OVDIFF_DATA_DIR / 'ovdiff.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _default_db), conn_max_age=60)}
except ValueError as exc:  # dj-database-url raises ValueError on unknown schemes
    raise ImproperlyConfigured(f"environment variable DATABASE_URL is malformed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + immediate transactions let a web process and a worker share one file without lock errors.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
LOGIN_URL = "/admin/login/"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("OVDIFF_MANIFEST_STATIC", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- security (check --deploy clean when DEBUG=0) ------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]

# --- REST framework ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous requests 401 (not 403).
        "ovdiff_web.token_auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["ovdiff_web.common.api.parsers.StrictJSONParser",
                               "rest_framework.parsers.FormParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "ovdiff_web.common.api.pagination.StandardPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ovdiff_web.common.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {"auth": env_str("OVDIFF_TOKEN_RATE", "10/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ovdiff API",
    "DESCRIPTION": "Open-vocabulary segmentation with diffusion-built prototypes (OVDiff): vocabularies, "
    "support sets, prototype banks, datasets and evaluation runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "ovdiff_web.common.api.schema_hooks.add_error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "ovdiff_web.core.models.Run.Status",
        "StageStatusEnum": "ovdiff_web.core.models.RunStage.Status",
        "DatasetStatusEnum": "ovdiff_web.core.models.Dataset.Status",
        "ArtifactStatusEnum": "ovdiff_web.core.models.ArtifactStatus",
        "ProfileEnum": "ovdiff_web.core.models.PROFILE_CHOICES",
    },
}

# --- Celery --------------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Shared by every web process: sign-in failure counters and the token endpoint's throttle (ovdiff_web.security).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": env_str("CACHE_URL", REDIS_URL), "KEY_PREFIX": "ovdiff",
                      "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)  # convenience only; the DB is the truth
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_ACKS_LATE = True  # tasks are idempotent (content-addressed artifacts, update_or_create rows)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queue names are "<prefix>gpu" and "<prefix>cpu": a prefix lets several deployments (or test sessions)
# share one Redis without taking each other's tasks. Workers: -Q <prefix>gpu,<prefix>cpu.
OVDIFF_QUEUE_PREFIX = env_str("OVDIFF_QUEUE_PREFIX", "")
CELERY_TASK_DEFAULT_QUEUE = f"{OVDIFF_QUEUE_PREFIX}cpu"
# Routes match the public task names (``name=`` on each task), which keep the module paths they were first
# registered under (tasks/ modules are now named after the rooms: tasks.support holds tasks.artifacts.*, ...).
CELERY_TASK_ROUTES = {
    "tasks.artifacts.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}gpu"},
    "tasks.segment.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}gpu"},
    "tasks.segment_image.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}gpu"},
    "tasks.watchdog.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}cpu"},
    "tasks.metrics.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}cpu"},
    "tasks.ingest.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}cpu"},
    "tasks.workflow.*": {"queue": f"{OVDIFF_QUEUE_PREFIX}cpu"},
}
OVDIFF_LONGEST_TASK_S = env_int("OVDIFF_LONGEST_TASK_S", 6 * 3600, minimum=60)
# A message a worker took but never acknowledged (worker SIGKILLed, machine lost) goes back to the queue once it
# is older than the visibility timeout: at a worker's start or on its periodic sweep (every restore interval).
# It must exceed the longest task, or a slow task would run twice; tests set a few seconds (docs/RELIABILITY.md).
OVDIFF_BROKER_VISIBILITY_TIMEOUT_S = env_int("OVDIFF_BROKER_VISIBILITY_TIMEOUT_S", OVDIFF_LONGEST_TASK_S + 3600,
                                             minimum=1)
OVDIFF_BROKER_RESTORE_INTERVAL_S = env_int("OVDIFF_BROKER_RESTORE_INTERVAL_S", 60, minimum=1)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": OVDIFF_BROKER_VISIBILITY_TIMEOUT_S,
                                   "unacked_restore_interval": OVDIFF_BROKER_RESTORE_INTERVAL_S,
                                   "unacked_restore_throttle": 1}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": OVDIFF_BROKER_VISIBILITY_TIMEOUT_S}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Bounded work (docs/RELIABILITY.md): every task stops after this long (the engine's cancel callback enforces it in
# every pool, the solo gpu pool included; prefork pools also get Celery's own limits). Runs are queued in chunks of
# OVDIFF_FAIR_CHUNK tasks so other users' work interleaves with a big run.
OVDIFF_TASK_TIME_LIMIT_S = env_int("OVDIFF_TASK_TIME_LIMIT_S", OVDIFF_LONGEST_TASK_S, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = OVDIFF_TASK_TIME_LIMIT_S + 30
CELERY_TASK_TIME_LIMIT = OVDIFF_TASK_TIME_LIMIT_S + 120
OVDIFF_FAIR_CHUNK = env_int("OVDIFF_FAIR_CHUNK", 8, minimum=1)
OVDIFF_MAX_ACTIVE_PER_USER = env_int("OVDIFF_MAX_ACTIVE_PER_USER", 10, minimum=1)
OVDIFF_MAX_CLASSES_PER_VOCABULARY = env_int("OVDIFF_MAX_CLASSES_PER_VOCABULARY", 1000, minimum=1)
# Prediction jobs (POST /api/predictions/): images per job and pixels per image (checked before decoding).
OVDIFF_PREDICT_MAX_IMAGES = env_int("OVDIFF_PREDICT_MAX_IMAGES", 5000, minimum=1)
# Label Studio ML backend: how long /predict waits for its prediction job (Label Studio gives up after its
# ML_TIMEOUT_PREDICT, 100 s by default; past this wait /predict answers 503 naming what the job is doing).
OVDIFF_LS_PREDICT_WAIT_S = env_int("OVDIFF_LS_PREDICT_WAIT_S", 60, minimum=1)
OVDIFF_PREDICT_MAX_PIXELS = env_int("OVDIFF_PREDICT_MAX_PIXELS", 40_000_000, minimum=1)
OVDIFF_MAX_SUPPORT_IMAGES = env_int("OVDIFF_MAX_SUPPORT_IMAGES", 128, minimum=1)
# Support review (engine.config.ReviewConfig, docs/CURATION.md): a foreground holding more than this share of its
# image's border, or covering more than this share of the image, is flagged "probably background" and shown first.
# Unset: the engine's defaults (0.65 and 0.9); ranges in settings_check.RANGES ("review.*").
OVDIFF_REVIEW = {key: value for key, value in {
    "max_border_share": env_float("OVDIFF_REVIEW_MAX_BORDER_SHARE", minimum=0, maximum=1),
    "max_fg_fraction": env_float("OVDIFF_REVIEW_MAX_FG_FRACTION", minimum=0, maximum=1),
}.items() if value is not None}
# Watchdog (celery beat): a run with no sign of life for OVDIFF_STALL_AFTER_S whose tasks no queue or live worker
# holds is marked failed ("stalled since ..."), so resume and cancel work on it.
OVDIFF_STALL_AFTER_S = env_int("OVDIFF_STALL_AFTER_S", 180, minimum=5)
OVDIFF_WATCHDOG_INTERVAL_S = env_int("OVDIFF_WATCHDOG_INTERVAL_S", 60, minimum=5)
CELERY_BEAT_SCHEDULE = {
    "watchdog": {"task": "tasks.watchdog.watchdog", "schedule": float(OVDIFF_WATCHDOG_INTERVAL_S),
                 "options": {"queue": f"{OVDIFF_QUEUE_PREFIX}cpu", "expires": float(OVDIFF_WATCHDOG_INTERVAL_S)}},
}
OVDIFF_WORKER_PING_TIMEOUT = float(env_int("OVDIFF_WORKER_PING_TIMEOUT_MS", 1000, minimum=50)) / 1000.0

# --- logging (never prints settings or secrets; request bodies are not logged) -------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "ovdiff_web.logfilters.RedactSecrets"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}
