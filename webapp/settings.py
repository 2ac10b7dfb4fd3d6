"""Vitrine settings: every value an operator may change is read from the environment here.

Defaults need no server (SQLite, kombu's filesystem broker, media on local disk) so a
new user can run the demo at once; DATABASE_URL and CELERY_BROKER_URL switch to
PostgreSQL and Redis. VITRINE_ENV=production refuses to start without SECRET_KEY and
turns on the hardening that `manage.py check --deploy` asks for.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VITRINE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


ENVIRONMENTS = ("development", "production")
# Checked, not guessed: "Production" or "prod" silently running development settings
# (DEBUG on, the fixed key) is the one mistake this must never allow.
ENVIRONMENT = os.environ.get("VITRINE_ENV") or "development"
if ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"VITRINE_ENV={ENVIRONMENT!r} is not one of: {', '.join(ENVIRONMENTS)} "
        "(lower case; unset means development)."
    )
PRODUCTION = ENVIRONMENT == "production"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when VITRINE_ENV=production.")
    # Development only: a fixed key is harmless on a laptop and keeps sessions across restarts.
    SECRET_KEY = "dev-insecure-vitrine-key-not-for-production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "corsheaders",
    "webapp.catalogue",
    "webapp.jobs",
    "webapp.curation",
    "webapp.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the web process (gunicorn has no file server of its own);
    # before everything else so a stylesheet costs no session or database work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware, as django-cors-headers asks; it only answers for /api/.
    "corsheaders.middleware.CorsMiddleware",
    "webapp.api.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

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
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'vitrine.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write at once; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # Take the write lock when a transaction starts: a deferred transaction that upgrades
    # from reading to writing fails at once ("database is locked") instead of waiting.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # A file (not :memory:) so a real worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-vitrine.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
if not PRODUCTION:
    # WhiteNoise warns at every start when the folder is missing, as before a first
    # collectstatic (tests, a fresh checkout); in production that warning is worth having.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Images (originals, thumbnails, kept search photos). No URL serves this folder: images
# reach a browser only through the login-checked views in webapp/curation/views/files.py.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# What jobs write (models, checkpoints, evaluations, feature sets): a root of its own,
# never beside the images and never served (webapp/storage.py).
VITRINE_ARTEFACTS_ROOT = Path(os.environ.get("VITRINE_ARTEFACTS_ROOT", VAR_DIR / "artefacts"))
# Who sends an image's bytes once the view has checked the login: "" (Django streams
# them), "nginx" (X-Accel-Redirect to VITRINE_SENDFILE_PREFIX + the storage name, an
# `internal` location) or "apache" (X-Sendfile with the file's path, mod_xsendfile).
VITRINE_SENDFILE = os.environ.get("VITRINE_SENDFILE", "").strip().lower()
if VITRINE_SENDFILE not in ("", "nginx", "apache"):
    raise ImproperlyConfigured(
        f"VITRINE_SENDFILE must be empty, nginx or apache, not {VITRINE_SENDFILE!r}."
    )
VITRINE_SENDFILE_PREFIX = os.environ.get("VITRINE_SENDFILE_PREFIX", "/protected-media/")

# Images and artefacts go through Django storage: local folders by default; an
# S3-compatible bucket (AWS, MinIO, ...) through django-storages when VITRINE_S3_BUCKET is
# set, so workers on other machines share the artefacts, images under VITRINE_S3_PREFIX and
# artefacts under a prefix beside it. Credentials come from the standard
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables.
VITRINE_S3_BUCKET = os.environ.get("VITRINE_S3_BUCKET", "")
if VITRINE_S3_BUCKET:
    _s3 = {
        "bucket_name": VITRINE_S3_BUCKET,
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "file_overwrite": False,
        "default_acl": None,
    }
    _prefix = os.environ.get("VITRINE_S3_PREFIX", "vitrine")
    _media = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "location": _prefix},
    }
    _artefacts = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **_s3,
            "location": os.environ.get("VITRINE_S3_ARTEFACTS_PREFIX", f"{_prefix}-artefacts"),
        },
    }
    _roots = (_prefix.strip("/"), _artefacts["OPTIONS"]["location"].strip("/"))
else:
    _media = {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # at MEDIA_ROOT
    _artefacts = {"BACKEND": "webapp.storage.ArtefactStorage"}  # at VITRINE_ARTEFACTS_ROOT
    _roots = (MEDIA_ROOT.resolve().as_posix(), VITRINE_ARTEFACTS_ROOT.resolve().as_posix())
# A web server that serves the images' folder must never reach an artefact through it.
if any(not b or f"{a}/".startswith(f"{b}/") for a, b in (_roots, _roots[::-1])):
    raise ImproperlyConfigured(
        f"the artefacts ({_roots[1]}) and the images ({_roots[0]}) need separate roots, "
        "neither inside the other (VITRINE_ARTEFACTS_ROOT, VITRINE_S3_ARTEFACTS_PREFIX)."
    )
STORAGES = {
    "default": _media,
    "artefacts": _artefacts,
    # WhiteNoise serves what collectstatic wrote to STATIC_ROOT, a gzip copy beside each
    # file. In production the names carry a content hash, so browsers may
    # cache them for good; development keeps plain names, so tests and a fresh checkout
    # need no collectstatic run first.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# Login throttling (django-axes): after VITRINE_LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused, even with the right password, until
# VITRINE_LOGIN_COOLOFF_MINUTES have passed since the last attempt; on the site's login
# and the admin's alike. A successful login before the limit starts the count again.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses before a password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("VITRINE_LOGIN_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("VITRINE_LOGIN_COOLOFF_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no banner on every manage.py command; failures are still logged
# Behind a reverse proxy every request comes from the proxy's address, and a lockout per
# (username, address) would lock a username out for everyone. VITRINE_PROXY_COUNT=1 (one
# nginx in front, which sets X-Forwarded-For) makes axes read the client's own address.
VITRINE_PROXY_COUNT = int(os.environ.get("VITRINE_PROXY_COUNT", "0"))
if VITRINE_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = VITRINE_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# Per process (each gunicorn worker has its own): a 12 x 12 pixel sample per work and a
# palette per collector (webapp/curation/selectors/palettes.py), the catalogue's facets.
# Django's default of 300 entries would evict them over and over at 10,000 works, and a
# collector page would decode its works' images again on every visit.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("VITRINE_CACHE_ENTRIES", "50000"))},
    }
}

# A cache shared by every process (rate limits per token counted once, not per gunicorn
# worker) when VITRINE_CACHE_URL names a Redis server; the in-memory default suits one
# process and the tests.
VITRINE_CACHE_URL = os.environ.get("VITRINE_CACHE_URL", "")
if VITRINE_CACHE_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": VITRINE_CACHE_URL,
    }

# --- The shop's API (webapp/api) ---
# Browsers on these origins may call /api/ (the storefront's own pages); no other origin,
# and no other path: django-cors-headers answers only for URLs under /api/.
CORS_ALLOWED_ORIGINS = env_list("VITRINE_CORS_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("authorization", "content-type")
# Every served list is stored as an impression; off only to measure what that costs.
VITRINE_LOG_IMPRESSIONS = env_bool("VITRINE_LOG_IMPRESSIONS", True)
# How long the API's table of candidates is kept per process: API purchases leave every list
# at once regardless; a sale imported otherwise within this (webapp/api/candidates.py).
VITRINE_CANDIDATES_TTL_S = float(os.environ.get("VITRINE_CANDIDATES_TTL_S", "10"))
# An event without a request id is joined to the latest list that showed its work to the
# same collector or session within this many hours.
VITRINE_ATTRIBUTION_HOURS = float(os.environ.get("VITRINE_ATTRIBUTION_HOURS", "24"))
# The Methods page's off-policy estimates read the latest this many logged lists (each one's
# target list is rebuilt per method: about a millisecond each).
VITRINE_OPE_MAX_LISTS = int(os.environ.get("VITRINE_OPE_MAX_LISTS", "1000"))
VITRINE_API_MAX_UPLOAD_BYTES = int(os.environ.get("VITRINE_API_MAX_UPLOAD_BYTES", "20000000"))
NINJA_PAGINATION_PER_PAGE = 100

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "curation:collector-list"
LOGOUT_REDIRECT_URL = "login"

# Images larger than this are refused on import: a guard against decompression bombs.
VITRINE_MAX_IMAGE_PIXELS = int(os.environ.get("VITRINE_MAX_IMAGE_PIXELS", str(40_000_000)))
# Imported embeddings larger than this (rows × dimensions, read from the file's header
# before anything is loaded) are refused: 50 M float32 values are 200 MB.
VITRINE_MAX_EMBEDDING_VALUES = int(os.environ.get("VITRINE_MAX_EMBEDDING_VALUES", "50000000"))
# Imported timestamps and listing dates outside this range are refused (ISO dates or
# date-times; without a zone, TIME_ZONE). An empty maximum means a day after the import.
VITRINE_EVENT_DATE_MIN = os.environ.get("VITRINE_EVENT_DATE_MIN", "1900-01-01")
VITRINE_EVENT_DATE_MAX = os.environ.get("VITRINE_EVENT_DATE_MAX", "")

# Pretrained CNN weights are files here (e.g. resnet50.safetensors); a job names one by
# file name. Nothing is downloaded unless a job asks for "hub" on a machine with network.
VITRINE_WEIGHTS_DIR = Path(os.environ.get("VITRINE_WEIGHTS_DIR", VAR_DIR / "weights"))
# The engine reads the same folder when a model names installed weights (e.g. a VBPR
# fine-tuned from "efficientnet_lite0_imagenet"), in this process and in the workers.
os.environ.setdefault("VITRINE_WEIGHTS_DIR", str(VITRINE_WEIGHTS_DIR))
# Extracted vectors, per (extractor, weights, image checksum): a re-run skips done images.
VITRINE_FEATURE_CACHE = Path(os.environ.get("VITRINE_FEATURE_CACHE", VAR_DIR / "feature-cache"))

# --- Celery (read by workers/celery.py and by the site when it sends tasks) ---
BROKER_DIR = Path(os.environ.get("VITRINE_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables; kombu's default is "control" in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The folder is polled: every 0.2 s instead of kombu's 1 s keeps a click snappy.
        "polling_interval": 0.2,
    }
    # kombu's filesystem transport expects its folders to exist.
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# A dead broker must fail a click within seconds, not hang the page.
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 1}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # outcomes live on the job row, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "3600"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "3900"))
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("VITRINE_QUEUE", "cpu")
# CNN extraction, fine-tuning and DVBPR go to this queue when it is set (a GPU worker
# consumes it: `celery -A workers.celery worker -Q gpu`); unset, everything runs on cpu.
VITRINE_GPU_QUEUE = os.environ.get("VITRINE_GPU_QUEUE", "")
# A running job stamps a heartbeat this often; one silent this long lost its worker, and
# every worker's reaper looks this often: a killed worker's job is queued again within
# STALE_AFTER + REAPER_INTERVAL (20 s by default). The stale limit stays several beats
# long so a beat delayed by a busy database never takes a live job from its worker.
VITRINE_HEARTBEAT_S = float(os.environ.get("VITRINE_HEARTBEAT_S", "2"))
VITRINE_STALE_AFTER_S = float(os.environ.get("VITRINE_STALE_AFTER_S", "15"))
VITRINE_REAPER_INTERVAL_S = float(os.environ.get("VITRINE_REAPER_INTERVAL_S", "5"))
# Attempts before the reaper gives a job up as failed.
VITRINE_MAX_ATTEMPTS = int(os.environ.get("VITRINE_MAX_ATTEMPTS", "3"))
# What a training job serves: "refit", the evaluated recipe refitted on every event for the
# epoch count validation chose; or "evaluated", the very model the test metrics measured.
VITRINE_SERVE_MODELS = ("refit", "evaluated")
VITRINE_SERVE_MODEL = os.environ.get("VITRINE_SERVE_MODEL", "refit")
if VITRINE_SERVE_MODEL not in VITRINE_SERVE_MODELS:
    raise ImproperlyConfigured(
        f"VITRINE_SERVE_MODEL must be one of {', '.join(VITRINE_SERVE_MODELS)}, "
        f"not {VITRINE_SERVE_MODEL!r}."
    )
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # kombu warns on every connection that a filesystem:// broker URL names no host;
        # that transport needs none.
        "no_default_host_warning": {
            "()": "webapp.log_filters.DropMessages",
            "prefixes": ["No hostname was supplied"],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # faiss reports at INFO every CPU build it tries and fails to load before the one
        # that loads (AVX512, AVX2, ...): noise, since the generic build serves the same.
        "faiss.loader": {"level": "WARNING"},
        # timm announces every weights file it loads; the job's page records which one.
        "timm": {"level": "WARNING"},
        # django-axes logs four INFO lines per successful login; failures and lockouts,
        # which matter, are WARNING and stay.
        "axes": {"level": "WARNING"},
        "kombu.connection": {"filters": ["no_default_host_warning"]},
    },
}
