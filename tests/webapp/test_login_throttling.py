"""Login throttling (django-axes): repeated wrong passwords for one username from one
address lock that pair out, on the site's login and the admin's, even for the right
password; fewer failures do not."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from tests.subprocess_env import subprocess_env

pytestmark = pytest.mark.django_db
LOGINS = {"site": "login", "admin": "admin:login"}
PASSWORD = "pw-staff-1"  # the staff fixture's
SETTINGS_IMPORT = "from django.conf import settings; "


def log_in(client, where: str, password: str, username: str = "staff", **extra):
    return client.post(
        reverse(LOGINS[where]), {"username": username, "password": password}, **extra
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("where", LOGINS)
def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(client, staff, where):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, where, "wrong").status_code == 200  # the form, with its error
    locked = log_in(client, where, "wrong")  # the limit: locked from here on
    assert locked.status_code == 429
    right = log_in(client, where, PASSWORD)
    assert right.status_code == 429 and not logged_in(client)
    html = right.content.decode()
    assert "registration/locked_out.html" in [t.name for t in right.templates]
    assert "Too many login attempts" in html and "staff" in html
    assert "base.html" in [t.name for t in right.templates]  # the site's look


def test_a_lockout_is_for_that_username_from_that_address(client, staff, curator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "site", "wrong")
    assert log_in(client, "site", PASSWORD).status_code == 429
    other_address = log_in(client, "site", PASSWORD, REMOTE_ADDR="10.0.0.9")
    assert other_address.status_code == 302 and logged_in(client)
    client.logout()
    other_user = log_in(client, "site", "pw-curator-1", username="curator")
    assert other_user.status_code == 302 and logged_in(client)


@pytest.mark.parametrize("where", LOGINS)
def test_fewer_failures_then_the_right_password_logs_in_and_starts_the_count_again(
    client, staff, where
):
    for _round in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            log_in(client, where, "wrong")
        response = log_in(client, where, PASSWORD)
        assert response.status_code == 302 and logged_in(client)
        client.logout()


def test_the_limit_and_the_cool_off_come_from_the_environment():
    shown = "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SETTINGS_IMPORT + shown],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **subprocess_env(),
            "VITRINE_LOGIN_FAILURE_LIMIT": "7",
            "VITRINE_LOGIN_COOLOFF_MINUTES": "2.5",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7 150.0"


def test_the_test_clients_login_works_when_given_a_request(client, staff):
    # django-axes needs the request to count attempts; force_login needs nothing.
    assert client.login(request=HttpRequest(), username="staff", password=PASSWORD)
    assert client.get(reverse("curation:job-list")).status_code == 200
