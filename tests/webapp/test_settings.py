import subprocess
import sys
from pathlib import Path

from tests.subprocess_env import subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = subprocess_env(drop=("SECRET_KEY", "DEBUG", "VITRINE_ENV"))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = manage("check", VITRINE_ENV="production", ALLOWED_HOSTS="vitrine.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        VITRINE_ENV="production",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-0123456789",
        ALLOWED_HOSTS="vitrine.example",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_in_production(monkeypatch):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)",
        VITRINE_ENV="production",
        SECRET_KEY="s" * 60,
        ALLOWED_HOSTS="a.example,b.example",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['a.example', 'b.example']"


def test_environment_overrides_database_and_media(tmp_path):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; d = settings.DATABASES['default'];"
        " print(d['ENGINE'], d['NAME'], settings.MEDIA_ROOT, settings.CELERY_BROKER_URL)",
        DATABASE_URL="postgres://u@db.example:5432/gallery",
        MEDIA_ROOT=str(tmp_path),
        CELERY_BROKER_URL="redis://cache.example:6379/0",
    )
    assert result.returncode == 0, result.stderr
    engine, name, media, broker = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert name == "gallery"
    assert media == str(tmp_path)
    assert broker == "redis://cache.example:6379/0"


def test_artefacts_go_to_an_s3_bucket_when_one_is_configured():
    """Workers on other machines share artefacts through S3-compatible storage
    (django-storages); checked without a network: only the configuration."""
    script = (
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name, s.location, s.endpoint_url)"
    )
    result = manage(
        "shell",
        "-c",
        script,
        VITRINE_S3_BUCKET="vitrine-artefacts",
        AWS_S3_ENDPOINT_URL="http://minio.internal:9000",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "S3Storage",
        "vitrine-artefacts",
        "vitrine",
        "http://minio.internal:9000",
    ]
    local = manage(
        "shell",
        "-c",
        "from django.core.files.storage import storages; print(type(storages['default']).__name__)",
    )
    assert local.stdout.splitlines()[-1] == "FileSystemStorage"


def test_an_unknown_serve_model_setting_is_refused():
    result = manage("check", VITRINE_SERVE_MODEL="best")
    assert result.returncode != 0
    assert "VITRINE_SERVE_MODEL must be one of refit, evaluated, not 'best'" in result.stderr
    shown = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.VITRINE_SERVE_MODEL)",
        VITRINE_SERVE_MODEL="evaluated",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "evaluated"


def test_an_unknown_environment_is_refused_with_the_allowed_values():
    result = manage("check", VITRINE_ENV="Production", SECRET_KEY="s" * 60)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "VITRINE_ENV='Production' is not one of: development, production" in result.stderr


def test_an_unset_environment_is_development():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.ENVIRONMENT, settings.DEBUG)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "development True"
