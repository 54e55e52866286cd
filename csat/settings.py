"""csat settings: one file, every value from the environment with a safe development default.

Development needs no configuration at all: SQLite and a filesystem broker under ./var.
Production sets DJANGO_DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# Local state of the embedded default (SQLite file, filesystem broker, file cache).
VAR_DIR = Path(env.str("CSAT_VAR_DIR", default=str(BASE_DIR / "var")))

# ---------------------------------------------------------------- core
DEBUG = env.bool("DJANGO_DEBUG", default=True)
_DEV_SECRET = "django-insecure-development-only-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG is false.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

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
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "csat",
    "accounts",
    "surveys",
    "feedback",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "csat.urls"
WSGI_APPLICATION = "csat.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
# SQLite by default (no server needed); DATABASE_URL=postgres://... for PostgreSQL.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'csat.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share the file: WAL lets readers run beside one writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# ---------------------------------------------------------------- broker, cache, Celery
# One REDIS_URL serves broker and cache. Without it the broker is kombu's filesystem
# transport under ./var/broker: a real worker, no server, no eager mode.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A task a worker took but never acknowledged (the worker died) goes back to the queue
    # after this many seconds; keep it above the longest task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "csat",
        }
    }
else:
    _BROKER_DIR = VAR_DIR / "broker"
    for _folder in ("queue", "processed"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {
        "task": "csat.tasks.outbox_relay",
        "schedule": env.float("OUTBOX_RELAY_SECONDS", default=30.0),
    },
    "metrics-recompute-dirty": {
        "task": "metrics.tasks.metrics_recompute_dirty",
        "schedule": env.float("METRICS_DIRTY_POLL_SECONDS", default=5.0),
    },
    "metrics-refresh-open-periods": {
        "task": "metrics.tasks.metrics_refresh_open_periods",
        "schedule": 3600.0,
    },
    "metrics-nightly": {
        "task": "metrics.tasks.metrics_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
}
# Outbox events older than this that no worker has finished are sent again by the relay.
OUTBOX_RETRY_AFTER_SECONDS = env.int("OUTBOX_RETRY_AFTER_SECONDS", default=60)
# Committed events are sent to the broker by a thread of the web process, off the request
# path (csat/outbox.py); false sends each one from the request, after its commit.
OUTBOX_PUBLISH_IN_BACKGROUND = env.bool("OUTBOX_PUBLISH_IN_BACKGROUND", default=True)
# How long the publisher waits after an event for others to send with it (seconds). A task
# message costs the web process about 0.5 ms of CPU whatever its size: at 200 submissions a
# second per process, 0.2 s makes that 0.01 ms a submission instead of 0.05 (at 0.05 s), and
# an event reaches the worker at most 0.2 s later (follow-ups are measured in hours).
OUTBOX_PUBLISH_LINGER_SECONDS = env.float("OUTBOX_PUBLISH_LINGER_SECONDS", default=0.2)
# The API's hot statements (token lookup, response insert) are server-side prepared
# statements (csat/prepared.py); turn off behind a connection pooler in transaction mode.
PREPARED_STATEMENTS = env.bool("PREPARED_STATEMENTS", default=True)

# ---------------------------------------------------------------- i18n and time
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
# Quarters and years are cut at local midnight in this zone (metrics.md, "Period").
REPORTING_TIME_ZONE = env.str("REPORTING_TIME_ZONE", default=TIME_ZONE)
# Beat's crontab entries (the nightly recompute) run on the reporting clock.
CELERY_TIMEZONE = REPORTING_TIME_ZONE

# ---------------------------------------------------------------- static files
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# ---------------------------------------------------------------- auth
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous call gets 401 with a WWW-Authenticate challenge.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "csat.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "csat API",
    "DESCRIPTION": "Collect survey responses and read customer-satisfaction metrics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# ---------------------------------------------------------------- email
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="csat <csat@localhost>")

# ---------------------------------------------------------------- security
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# ---------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# ---------------------------------------------------------------- metrics (metrics.md)
# A purchase counts as a repurchase when it comes at most this long after the response.
METRICS_REPURCHASE_WINDOW_HOURS = env.int("METRICS_REPURCHASE_WINDOW_HOURS", default=90 * 24)
# A complaint is a repeat when the same customer complains in the same category this soon.
METRICS_REPEAT_COMPLAINT_DAYS = env.int("METRICS_REPEAT_COMPLAINT_DAYS", default=30)
# Rollups of periods touched by new events are recomputed this many seconds later (batched).
METRICS_DIRTY_DELAY_SECONDS = env.int("METRICS_DIRTY_DELAY_SECONDS", default=5)
# Connections that group the answers side by side in a full rebuild (one per core).
METRICS_REBUILD_CONNECTIONS = env.int("METRICS_REBUILD_CONNECTIONS", default=os.cpu_count() or 1)
# A claimed dirty period whose recompute has not finished by then is claimed again (its
# worker died): longer than the slowest family recompute.
METRICS_DIRTY_LEASE_SECONDS = env.int("METRICS_DIRTY_LEASE_SECONDS", default=900)

# ---------------------------------------------------------------- respondent pages (issue 3)
# Public survey POSTs per client IP (django-ratelimit, counted in the default cache: Redis in
# production); e.g. "30/m". Empty turns the limit off.
RESPOND_RATE_LIMIT = env.str("RESPOND_RATE_LIMIT", default="30/m")
# Largest logo a survey may upload.
SURVEY_LOGO_MAX_BYTES = env.int("SURVEY_LOGO_MAX_BYTES", default=200_000)
# Responses older than their survey's retention period are deleted nightly.
CELERY_BEAT_SCHEDULE["surveys-retention-purge"] = {
    "task": "surveys.tasks.responses_purge_expired",
    "schedule": crontab(hour=3, minute=15),
}

# ---------------------------------------------------------------- outreach: invitations, SMS
CELERY_IMPORTS = ["surveys.outreach.tasks"]
# Beat claims due invitations and reminders this often (rows with a due time, no countdowns).
CELERY_BEAT_SCHEDULE["invitations-dispatch-due"] = {
    "task": "surveys.outreach.tasks.invitations_dispatch_due",
    "schedule": env.float("INVITATION_DISPATCH_SECONDS", default=10.0),
}
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Every outbound call has a timeout: a hung mail server must not hold a worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=15)
# No customer is invited more than once in this many days, across every channel.
INVITATION_FATIGUE_DAYS = env.int("INVITATION_FATIGUE_DAYS", default=30)
# A personal link stops working this many days after it was sent (a send can choose its own).
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=30)
# A claimed invitation whose worker has not finished after this long is claimed again.
INVITATION_CLAIM_LEASE_SECONDS = env.int("INVITATION_CLAIM_LEASE_SECONDS", default=600)
# Retryable failures (5xx, timeouts) are retried with exponential backoff, then marked failed.
INVITATION_MAX_ATTEMPTS = env.int("INVITATION_MAX_ATTEMPTS", default=5)
INVITATION_RETRY_BASE_SECONDS = env.int("INVITATION_RETRY_BASE_SECONDS", default=60)
# SMS: a dotted path like EMAIL_BACKEND. Console (default), file, or a generic HTTP provider.
SMS_BACKEND = env.str("SMS_BACKEND", default="surveys.outreach.sms.ConsoleSmsBackend")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(VAR_DIR / "sms.jsonl"))
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_AUTH_TOKEN = env.str("SMS_HTTP_AUTH_TOKEN", default="")
# The JSON body posted to the provider; "{to}", "{body}" and "{reference}" inside its strings
# are replaced with the message's values (substituted into parsed JSON: nothing to inject).
SMS_HTTP_BODY_TEMPLATE = env.str(
    "SMS_HTTP_BODY_TEMPLATE", default='{"to": "{to}", "text": "{body}", "reference": "{reference}"}'
)
# Where the provider's reply carries its message id (dotted path into the JSON reply).
SMS_HTTP_MESSAGE_ID_FIELD = env.str("SMS_HTTP_MESSAGE_ID_FIELD", default="id")
SMS_HTTP_TIMEOUT_SECONDS = env.float("SMS_HTTP_TIMEOUT_SECONDS", default=10.0)
# The shared secret the provider sends (Authorization: Bearer ...) with delivery receipts.
SMS_WEBHOOK_SECRET = env.str("SMS_WEBHOOK_SECRET", default="")
# Uploads (multipart bodies, files included) larger than this are refused with 413.
# (a backstop above the import limit, IMPORT_MAX_FILE_MB, which refuses with its own message)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=300 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "csat.limits.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# The token lookup reads the caller's permissions in the same query (csat/authentication.py):
# an API call's permission check then costs no query of its own.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "csat.authentication.TokenWithPermissionsAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
# ---------------------------------------------------------------- imports (CSV and XLSX)
# The import channel's tasks live in surveys/imports/tasks.py (not autodiscovered).
CELERY_IMPORTS = [*CELERY_IMPORTS, "surveys.imports.tasks"]
CELERY_BEAT_SCHEDULE["imports-resume-stalled"] = {
    "task": "surveys.imports.tasks.imports_resume_stalled",
    "schedule": env.float("IMPORT_RELAY_SECONDS", default=60.0),
}
# Larger uploads are refused before they are read.
IMPORT_MAX_FILE_MB = env.int("IMPORT_MAX_FILE_MB", default=256)
# An .xlsx unpacking to more than this is refused (a zip bomb).
IMPORT_MAX_XLSX_UNPACKED_MB = env.int("IMPORT_MAX_XLSX_UNPACKED_MB", default=2048)
# Rows per transaction: a worker killed mid-file loses at most one chunk's work.
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=10_000)
# Up to this many valid rows, imported responses reach the metrics one by one as a web
# response does; a bigger import rebuilds its quarters once at the end.
IMPORT_INCREMENTAL_MAX_ROWS = env.int("IMPORT_INCREMENTAL_MAX_ROWS", default=2_000)
# A job whose worker has not reported for this long is sent again, at most this many times.
IMPORT_STALLED_AFTER_SECONDS = env.int("IMPORT_STALLED_AFTER_SECONDS", default=300)
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=5)

# ---------------------------------------------------------------- Content-Security-Policy (issue 5)
# Strict: scripts and styles only from our own static files, no inline script, style or
# event handler anywhere. A view that sets its own Content-Security-Policy header (the
# embedded survey, framable by the origins configured on it) keeps it: django-csp only adds
# the header when the response has none. `csp.decorators.csp_update` relaxes one view.
from csp.constants import NONE, SELF  # noqa: E402

MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
