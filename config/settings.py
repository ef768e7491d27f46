"""Dealflow settings: everything an operator changes comes from the environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEALFLOW_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Under pytest the suite's settings apply even before the root conftest sets DEALFLOW_TESTING.
TESTING = env_bool("DEALFLOW_TESTING", False) or "pytest" in sys.modules
# A development key is only acceptable when DEBUG or tests are on; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING or env_bool("DEALFLOW_DEV", False):
        SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789abcdef"
    else:
        from django.core.management.utils import get_random_secret_key

        _key_file = VAR_DIR / "secret_key"
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        if not _key_file.exists():
            _key_file.write_text(get_random_secret_key())
            _key_file.chmod(0o600)
        SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
if TESTING:
    ALLOWED_HOSTS.append("testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "ninja",  # serves Swagger UI's own files for /api/docs (no CDN)
    "dealflow.core",
    "dealflow.accounts",
    "dealflow.contacts",
    "dealflow.customfields",
    "dealflow.tags",
    "dealflow.products",
    "dealflow.deals",
    "dealflow.metrics",
    "dealflow.forecasting",
    "dealflow.reviews",
    "dealflow.people",
    "dealflow.quotes",
    "dealflow.notifications",
    "dealflow.automation",
    "dealflow.commissions",
    "dealflow.importers",
    "dealflow.api",
    "dealflow.web",
    "dealflow.cli",
    "dealflow.directory",
    "dealflow.search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dealflow.importers.middleware.UploadLimitMiddleware",  # refuses an over-size body before reading it
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dealflow.web.middleware.UserLanguageMiddleware",  # after authentication: it reads user.language
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "dealflow.web.middleware.ApplicationErrorMiddleware",  # refused input: a styled 400 page, not a 500
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dealflow.web.context_processors.navigation",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'dealflow.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL)
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")))
_db["CONN_HEALTH_CHECKS"] = True
if _db["ENGINE"] == "django.db.backends.postgresql":
    # JIT costs 10-30 % on the sub-second analytical queries this app runs (GUIDE.md).
    _db.setdefault("OPTIONS", {})["options"] = "-c jit=off"
    _db["TEST"] = {"NAME": os.environ.get("DEALFLOW_TEST_DB", "test_dealflow")}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
DATABASES = {"default": _db}
IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- i18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "src" / "dealflow" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True
# Off: ids and versions in templates and attributes must never read "1,276"; the money, number and
# percent filters group digits themselves (force_grouping) in the reader's locale.
USE_THOUSAND_SEPARATOR = False
FORMAT_MODULE_PATH = ["dealflow.web.formats"]  # nl: 26-11-2026; en: 26 Nov 2026

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    # Hashed names (served with a year's cache lifetime, immutable) and gzip + brotli copies: a chart
    # page's first visit moves Plotly's 4.8 MB bundle as about 1 MB.
    "staticfiles": {"BACKEND": "dealflow.web.staticfiles.StaticStorage"},
}
if TESTING or DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Collected files only in production (`dealflow run` collects them when they changed); the finders
# serve the sources directly in development and tests.
WHITENOISE_USE_FINDERS = TESTING or DEBUG
WHITENOISE_KEEP_ONLY_HASHED_FILES = True  # compress each file once, under its hashed name
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dealflow.web.staticfiles.PlotlyFinder",  # /static/vendor/plotly.min.js from the plotly package
]

# --- Background tasks (django-tasks, database backend; `dealflow worker` runs them) ---
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if TESTING or env_bool("DEALFLOW_TASKS_IMMEDIATE")
            else "django_tasks_db.DatabaseBackend"
        )
    }
}

# The worker draws a statement's PDF as soon as the statement changes, so that a download is a read
# (commissions.services.documents). Off in the tests, where the immediate backend would draw every PDF inline.
COMMISSIONS_PDFS_AHEAD = env_bool("DEALFLOW_PDFS_AHEAD", not TESTING)

# --- Security -------------------------------------------------------------------------
# Production runs behind HTTPS: HTTPS=true turns on secure cookies, HSTS and the redirect (docs/deploy.md).
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a load balancer that terminates TLS, trust its X-Forwarded-Proto header.
BEHIND_PROXY = env_bool("BEHIND_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = 0.25  # hours
# Lock a username from one client address, never an address alone: behind a load balancer every
# request comes from the balancer, and locking its address locked everybody out (issue #13). The
# address is the balancer's X-Forwarded-For entry only when BEHIND_PROXY is set (accounts/client_ip.py).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "dealflow.accounts.client_ip.client_ip"
# Tests sign in through client.login(), which passes no request; security tests switch axes back on.
AXES_ENABLED = not env_bool("DEALFLOW_AXES_DISABLED", TESTING)
AXES_RESET_ON_SUCCESS = True
if not AXES_ENABLED:
    AUTHENTICATION_BACKENDS = AUTHENTICATION_BACKENDS[1:]
    SILENCED_SYSTEM_CHECKS = ["axes.W003"]
AXES_LOCKOUT_CALLABLE = "dealflow.web.lockout.lockout_response"
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "dealflow@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- Dealflow -------------------------------------------------------------------------
DEALFLOW = {
    "BASE_CURRENCY": os.environ.get("DEALFLOW_BASE_CURRENCY", "EUR"),
    "FISCAL_YEAR_START_MONTH": int(os.environ.get("DEALFLOW_FISCAL_YEAR_START_MONTH", "1")),
    "SURVEY_ANONYMITY_THRESHOLD": max(3, int(os.environ.get("DEALFLOW_SURVEY_THRESHOLD", "5"))),
    # The address people reach the app at, for links in e-mails and calendar files.
    "SITE_URL": os.environ.get("DEALFLOW_SITE_URL", "http://localhost:8000"),
    "API_RATE_LIMIT_PER_MINUTE": int(os.environ.get("DEALFLOW_API_RATE_LIMIT", "600")),
    # What a recurring line adds to a deal's amount, and so what metrics and the forecast count:
    # "tcv" (total contract value over the term) or "arr" (one year of recurring revenue). docs/products.md
    "DEAL_VALUE_BASIS": os.environ.get("DEALFLOW_DEAL_VALUE_BASIS", "tcv"),
    # Webhooks to loopback, private and link-local addresses (the server's own network): refused unless
    # this is on (development and tests post to local receivers). docs/automation.md
    "WEBHOOK_PRIVATE_ADDRESSES": env_bool("DEALFLOW_WEBHOOK_PRIVATE_ADDRESSES", DEBUG or TESTING),
}
