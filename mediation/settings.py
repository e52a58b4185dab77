"""Fengqiao settings: one file, driven by environment variables.

Every variable read here is listed in ``.env.example``. The embedded default needs no servers
(SQLite, in-memory channel layer, console e-mail and SMS, keys generated under ``var/``);
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Everything generated on this machine (database, keys, uploads) lives here, never in git.
VAR_DIR = Path(envstr("FENGQIAO_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(filename: str, nbytes: int = 50) -> str:
    """A random secret generated on first run and kept under ``var/keys``."""
    keys = VAR_DIR / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    path = keys / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY") or _local_secret("django_secret_key")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# Key for ID numbers at rest (Fernet, urlsafe base64 of 32 bytes). Several keys, comma
# separated, allow rotation: the first encrypts, all decrypt.
IDENTITY_KEYS = envlist("IDENTITY_KEYS", [])
# Key of the keyed hash used to find an ID number without decrypting (uniqueness, look-up).
# Default: derived from the last of IDENTITY_KEYS, which must then stay in the list on rotation.
IDENTITY_LOOKUP_KEY = envstr("IDENTITY_LOOKUP_KEY")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "phonenumber_field",
    "rest_framework",
    "drf_spectacular",
    "mediation",
    "mediators",
    "sessions.apps.MediationSessionsConfig",
    "signing",
    "judicial_link",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "mediation.middleware.RequireVerifiedStaffMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mediation.urls"
ASGI_APPLICATION = "mediation.asgi.application"

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
                "mediation.context_processors.display",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'fengqiao.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and envbool("DATABASE_PREPARED_STATEMENTS", True):
    # Server-side binding lets psycopg prepare a statement once a connection has run it five
    # times: PostgreSQL then stops planning it again. Planning the rooms' one-query write check
    # took 1-2 ms, ten times its execution (README, Figures). A transaction-pooling PgBouncer
    # cannot keep prepared statements: DATABASE_PREPARED_STATEMENTS=0 there.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked".
    # Write-ahead log: readers never wait for the writer, and a commit is one append instead of a
    # rollback journal written and deleted; synchronous=NORMAL is durable against a process crash
    # (the rooms benchmark measured ~130 deliveries/s with the default journal, see README).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests get a file, not the shared-cache in-memory database: there a reader meeting a writer
    # from another thread fails at once with "database table is locked" instead of waiting, and
    # tests with threads (concurrent signing, websockets) need both. One file per test process.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"fengqiao-test-{os.getpid()}.sqlite3")}

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    # Redis PubSub layer: one PUBLISH per group send, one subscription connection per process.
    # The core layer (a sorted set per channel, BZPOPMIN per receive) cost more CPU per delivery and
    # drops silently over its capacity; both deliver at most once, and rooms read any gap from the
    # database. The pool size is explicit: redis-py 8's default of 100 connections turned a burst of
    # handshakes into HTTP 500s (issue 4's measurements).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "max_connections": envint("REDIS_MAX_CONNECTIONS", 1000)}],
            },
        }
    }
else:
    # Channels' in-memory layer with its expiry sweep at most once a second (mediation/channel_layer.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "mediation.channel_layer.InMemoryChannelLayer"}}

AUTH_USER_MODEL = "mediation.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failed logins (django-axes), per username and IP.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = envbool("AXES_ENABLED", True)

OTP_TOTP_ISSUER = "Fengqiao"

GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Evidence lives outside the web root and is served only through a permission check.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "uploads"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "uploads"
EVIDENCE_MAX_BYTES = envint("EVIDENCE_MAX_MB", 20) * 1024 * 1024
# Mediation rooms: the longest text message, in characters.
SESSION_MESSAGE_MAX_CHARS = envint("SESSION_MESSAGE_MAX_CHARS", 2000)
# A connection counts as present while its last ping is this recent (clients ping every 20 s).
SESSION_PRESENCE_SECONDS = envint("SESSION_PRESENCE_SECONDS", 60)
# Per person and room: at most this many messages in any 10 seconds.
SESSION_MESSAGES_PER_10S = envint("SESSION_MESSAGES_PER_10S", 20)
# Reminders before each scheduled sitting, in hours before its start (sent once each by sweep_deadlines).
SESSION_REMINDER_HOURS = [int(h) for h in envlist("SESSION_REMINDER_HOURS", ["24", "1"])]
FILE_UPLOAD_PERMISSIONS = 0o600

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "枫桥调解 <noreply@fengqiao.local>")
SMS_BACKEND = envstr("SMS_BACKEND", "mediation.notifications.ConsoleSmsBackend")

# Legal clocks (the defaults are the rules' own figures; see README "Clocks").
REPEAT_COMPLAINT_DAYS = envint("REPEAT_COMPLAINT_DAYS", 90)
# A mediator who worked for the institution within this many years is excluded from its cases.
MEDIATOR_EXCLUSION_YEARS = envint("MEDIATOR_EXCLUSION_YEARS", 3)
DEADLINE_REMINDER_DAYS = [int(d) for d in envlist("DEADLINE_REMINDER_DAYS", ["3", "1"])]
# The 30-day window to apply for judicial confirmation reminds earlier (issue 6: 10, 3 and 1 days).
JUDICIAL_CONFIRMATION_REMINDER_DAYS = [int(d) for d in envlist("JUDICIAL_CONFIRMATION_REMINDER_DAYS", ["10", "3", "1"])]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # pyHanko logs what our verification reports anyway (a tampered upload is an ERROR traceback).
        "pyhanko": {"level": "CRITICAL"},
        "pyhanko_certvalidator": {"level": "ERROR"},
    },
}

# --- signing (issue 5): agreements, the built-in CA and TSA, one-time codes ---------------
# The address the public reaches this site at: QR codes, CRL distribution points, TSA URL.
PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Root CA, issuing CA and TSA keys and certificates (generated on first use, never in git).
SIGNING_PKI_DIR = Path(envstr("SIGNING_PKI_DIR", str(VAR_DIR / "pki")))
# Passphrase that encrypts every private key at rest (CA files and issued keys in the database).
SIGNING_KEY_PASSPHRASE = envstr("SIGNING_KEY_PASSPHRASE") or _local_secret("signing_key_passphrase")
# Dotted path of the key service that turns a certificate into a pyHanko signer (HSM, external CA).
SIGNING_KEY_SERVICE = envstr("SIGNING_KEY_SERVICE", "signing.keys.LocalKeyService")
# RFC 3161 time-stamping: empty uses the built-in TSA in-process; a URL uses that external TSA.
SIGNING_TSA_URL = envstr("SIGNING_TSA_URL")
SIGNING_TSA_TIMEOUT_SECONDS = envint("SIGNING_TSA_TIMEOUT_SECONDS", 10)
# Lifetime of the one-signature event certificate issued to a person after identity checks.
SIGNING_EVENT_CERT_MINUTES = envint("SIGNING_EVENT_CERT_MINUTES", 30)
# One-time codes before each signature: lifetime, wrong tries allowed, codes sent per hour.
SIGNING_OTP_TTL_SECONDS = envint("SIGNING_OTP_TTL_SECONDS", 300)
SIGNING_OTP_MAX_ATTEMPTS = envint("SIGNING_OTP_MAX_ATTEMPTS", 5)
SIGNING_OTP_PER_HOUR = envint("SIGNING_OTP_PER_HOUR", 5)
# The CJK font agreements are typeset in: the Simplified Chinese face is extracted from it once
# into var/fonts and embedded (Debian's fonts-noto-cjk, installed by make install).
SIGNING_CJK_FONT_SOURCE = envstr("SIGNING_CJK_FONT_SOURCE", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
# Largest PDF the public verification page and API accept.
VERIFY_MAX_MB = envint("VERIFY_MAX_MB", 20)
# --- end signing ---------------------------------------------------------------------------
# Largest court package (MB) verify_package reads.
PACKAGE_MAX_MB = envint("PACKAGE_MAX_MB", 1024)

# The name shown in the header of every page.
SITE_TITLE = _("枫桥金融纠纷在线调解平台")

# --- the court API (judicial_link/api.py) ----------------------------------------------------------
# Django REST framework serves only the court API; its views set their own authentication.
REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "judicial_link.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"court_api": envstr("COURT_API_RATE", "600/hour")},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fengqiao court API",
    "DESCRIPTION": "For courts' own systems: judicial-confirmation applications, their packages, acceptance and rulings.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/court/v1",
}
# Webhooks to courts: first try at once, then retries after base × 2^(n-1) seconds, then give up.
COURT_WEBHOOK_TIMEOUT_SECONDS = envint("COURT_WEBHOOK_TIMEOUT_SECONDS", 5)
COURT_WEBHOOK_BACKOFF_SECONDS = envint("COURT_WEBHOOK_BACKOFF_SECONDS", 60)
COURT_WEBHOOK_MAX_ATTEMPTS = envint("COURT_WEBHOOK_MAX_ATTEMPTS", 8)
