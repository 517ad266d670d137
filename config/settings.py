"""Settings, read from the environment through the typed helpers of ``config.env``.

``DJANGO_ENV=production`` turns on the deployment checks: a missing secret key or host list
stops the start with ``ImproperlyConfigured`` instead of running with unsafe defaults.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in ("development", "test", "production"):
    # A typo ("prod") must not fall back to the development defaults (DEBUG on, a public key).
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789abcdefghijklmnop"
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_ENV=production: "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY == _DEV_SECRET_KEY):
    # The key signs sessions and password-reset links: a short or published one forges them.
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is too weak for production: 50 random characters or more.")

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    # DEBUG pages show settings, SQL and patient data of the failing request to whoever asks.
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the served host names when DJANGO_ENV=production.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "simple_history",
    "audit",
    "register",
    "prescriptions",
    "operations",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files under gunicorn (`make run`, production) without a second server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "web.middleware.FrenchFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# PostgreSQL only: DATABASE_URL when given (CI, production), otherwise the embedded server
# from the pip wheel under ./var (development, `make run`, `make test` on a fresh machine).
_database_url = env_str("DATABASE_URL", "")
if not _database_url and PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must name the PostgreSQL server when DJANGO_ENV=production.")
if not _database_url:
    from config.embedded_db import embedded_database_url

    _database_url = embedded_database_url()
# Health checks: a persistent connection is pinged before a request reuses it, so a database
# restart costs a reconnect instead of one 500 per worker thread (bench/crash.py found them).
DATABASES = {
    "default": dj_database_url.parse(
        _database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Only PostgreSQL is supported: the register relies on its triggers and locks.")
DATABASES["default"].setdefault("OPTIONS", {})
# A write waiting on the register lock gives up after this long and answers 409 + Retry-After
# rather than piling up requests behind a stuck transaction.
DATABASES["default"]["OPTIONS"].setdefault("options", f"-c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 5000)}")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
# Day/month/year dates in every language of the interface (web/formats/en).
FORMAT_MODULE_PATH = ["web.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

AUTHENTICATION_BACKENDS = ["audit.backends.LockoutModelBackend"]
# Failed logins: at most FAILURES per username and client IP within MINUTES, then that pair is
# locked until the oldest failure leaves the window (audit.lockout). The throttle bounds the
# guesses per IP on the token endpoint whatever the username, counted in the database cache
# (shared by every worker; its table is created by audit/migrations/0006_shared_cache_table.py).
LOGIN_LOCKOUT = {
    "FAILURES": env_int("LOGIN_LOCKOUT_FAILURES", 5),
    "MINUTES": env_int("LOGIN_LOCKOUT_MINUTES", 15),
}
LOGIN_THROTTLE_RATE = env_str("LOGIN_THROTTLE_RATE", "30/minute")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}}
# Reverse proxies of ours in front of the service (0: clients connect directly). The client IP
# of the audit trail and of the login lockout is read from X-Forwarded-For only through them.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]

SPECTACULAR_SETTINGS = {
    "TITLE": "Registre des stupéfiants — kétamine injectable",
    "DESCRIPTION": "Append-only, hash-chained narcotic register, secure prescriptions and dispensations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets sharing a field name ("kind", "status") across apps: name them, or
    # `check --deploy` warns (drf_spectacular.W001).
    "ENUM_NAME_OVERRIDES": {
        "TheftLossKindEnum": ["theft", "loss"],
        "WardReturnKindEnum": "operations.models.WardReturn.Kind",
        "PrescriptionLineKindEnum": "prescriptions.models.PrescriptionLine.Kind",
        "InventoryStatusEnum": "operations.models.InventoryCount.Status",
        "PrescriptionStatusEnum": "prescriptions.models.SecurePrescription.Status",
    },
}

# Largest request body accepted (bytes): a register line is small; a huge body is refused early.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

# Idempotency-Key records older than this are deleted by `manage.py purge_idempotency_keys`.
IDEMPOTENCY_KEY_RETENTION_DAYS = env_int("IDEMPOTENCY_KEY_RETENTION_DAYS", 30)

# Regulatory thresholds (DOMAIN.md). Every figure marked "configurable" lives here.
KETAMINE_RULES = {
    "MAX_PRESCRIPTION_DAYS": env_int("KETAMINE_MAX_PRESCRIPTION_DAYS", 28),  # R.5132-30
    "PRESENTATION_GRACE_DAYS": 3,  # R.5132-33
    "DESTRUCTION_NOTICE_DAYS": env_int("KETAMINE_DESTRUCTION_NOTICE_DAYS", 30),  # arrêté 12 mars 2013 art. 7
    "HIGH_DAILY_DOSE_MG": 100,  # ANSM 20 June 2017
    "SUSTAINED_HIGH_DOSE_DAYS": 3,
    "PROLONGED_EXPOSURE_DAYS": 28,
    "PROLONGED_EXPOSURE_WINDOW_DAYS": 150,
    "BURN_CARE_RATE_MG_PER_H": 200,
    "BURN_CARE_MIN_HOURS": 3,
    "BURN_CARE_REPEAT_COUNT": 2,
    "BURN_CARE_REPEAT_WINDOW_DAYS": 7,
    "DISPENSED_24H_MG": 100,
    "OVERRIDE_MIN_CHARS": 20,
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A web session lasts a working shift at most, and ends with the browser.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): the pages load only their own script and stylesheet and
# carry no inline script or style, so an injected <script> or on* attribute does not run even if
# some text escaped escaping. The exposure charts are inline SVG elements (no script), the
# PDF downloads are attachments. Swagger UI (/api/v1/docs/) needs its CDN and an inline script:
# it is left out, and shows API descriptions only.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/v1/docs/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
