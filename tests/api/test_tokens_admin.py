"""Tokens made and revoked by staff, alike in the admin and the command: the permission is
checked on both, the token is shown once and only its hash is stored."""

import hashlib

import pytest
from django.core.management import CommandError, call_command

from webapp.api.models import ApiClient

pytestmark = pytest.mark.django_db


def test_staff_make_a_token_in_the_admin_and_see_it_once(client, staff):
    client.force_login(staff)
    page = client.post(
        "/admin/api/apiclient/add/",
        {"name": "storefront", "scopes": ["read", "write"], "requests_per_minute": 120},
    )
    assert page.status_code == 200
    token = page.context["token"]
    assert token.startswith("vt_") and token in page.content.decode()
    stored = ApiClient.objects.get(name="storefront")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.scopes == ["read", "write"] and stored.requests_per_minute == 120
    assert stored.created_by == staff
    # the change page never shows it again, nor its hash
    detail = client.get(f"/admin/api/apiclient/{stored.pk}/change/").content.decode()
    assert token not in detail and stored.token_hash not in detail


def test_the_admin_revokes_a_token_and_the_api_refuses_it_at_once(client, staff):
    from webapp.api.tokens import api_client_create

    made, token = api_client_create(user=staff, name="newsletter", scopes=["read"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/works/nothing", **headers).status_code == 404  # authenticated
    client.force_login(staff)
    client.post(
        "/admin/api/apiclient/",
        {"action": "revoke", "_selected_action": [made.pk]},
    )
    made.refresh_from_db()
    assert made.revoked_at is not None
    client.logout()
    assert client.get("/api/v1/works/nothing", **headers).status_code == 401


def test_a_staff_member_without_the_permission_cannot_make_or_revoke_tokens(
    client, django_user_model
):
    plain_staff = django_user_model.objects.create_user("plain", password="pw", is_staff=True)
    client.force_login(plain_staff)
    refused = client.post(
        "/admin/api/apiclient/add/",
        {"name": "sneaky", "scopes": ["write"], "requests_per_minute": 60},
    )
    assert refused.status_code == 403
    assert not ApiClient.objects.filter(name="sneaky").exists()
    with pytest.raises(CommandError, match="api.manage_token"):
        call_command("api_token", "create", "sneaky", "--scope", "write", "--user", "plain")
    assert not ApiClient.objects.exists()


def test_the_command_creates_lists_and_revokes(staff, capsys):
    call_command("api_token", "create", "shop", "--scope", "read", "--user", "staff")
    printed = capsys.readouterr().out
    token = printed.rsplit(" ", 1)[-1].strip()
    client = ApiClient.objects.get(name="shop")
    assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
    call_command("api_token", "list")
    assert "shop" in capsys.readouterr().out
    call_command("api_token", "revoke", "shop", "--user", "staff")
    client.refresh_from_db()
    assert client.revoked_at is not None
    with pytest.raises(CommandError, match="no API client named 'nobody'"):
        call_command("api_token", "revoke", "nobody", "--user", "staff")
    with pytest.raises(CommandError, match="say who acts"):
        call_command("api_token", "create", "other", "--scope", "read")
