"""Who may call the API: bearer tokens with a scope, within a rate limit, kept hashed; and
what a token may not open (the curators' pages, the admin), nor a session the API."""

import hashlib

import pytest
from django.core.exceptions import PermissionDenied

from tests.api.conftest import bearer, trainer_with_tokens
from webapp.api.models import ApiClient
from webapp.api.tokens import api_client_authenticate, api_client_create, api_client_revoke

pytestmark = pytest.mark.django_db

# (HTTP method, path, the scope it needs); the ids need not exist: a caller is checked
# before anything of the request is read.
ENDPOINTS = [
    ("get", "/api/v1/collectors/demo-c0001/recommendations", "read"),
    ("post", "/api/v1/recommendations/visitor", "read"),
    ("get", "/api/v1/works/demo-w00001/similar", "read"),
    ("post", "/api/v1/search/image", "read"),
    ("get", "/api/v1/works/demo-w00001", "read"),
    ("post", "/api/v1/events", "write"),
    ("post", "/api/v1/works", "write"),
]
READ_ENDPOINTS = [e for e in ENDPOINTS if e[2] == "read"]
WRITE_ENDPOINTS = [e for e in ENDPOINTS if e[2] == "write"]


def call(client, method, path, **headers):
    if method == "get":
        return client.get(path, **headers)
    return client.post(path, {}, **headers)


def client_of(name: str) -> ApiClient:
    return ApiClient.objects.get(name=name)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_refuses_missing_unknown_and_revoked_tokens(
    client, tokens, method, path, scope
):
    token = tokens["shop"]  # holds both scopes: only the token's state decides
    assert call(client, method, path).status_code == 401
    assert call(client, method, path, HTTP_AUTHORIZATION=f"Basic {token}").status_code == 401
    unknown = "vt_" + "x" * 43
    assert call(client, method, path, **bearer(unknown)).status_code == 401
    # The right prefix with the wrong rest is not the token either.
    assert call(client, method, path, **bearer(token[:-4] + "AAAA")).status_code == 401

    live = call(client, method, path, **bearer(token))
    assert live.status_code not in (401, 403)
    api_client_revoke(user=trainer_with_tokens(), client=client_of("shop"))
    revoked = call(client, method, path, **bearer(token))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), WRITE_ENDPOINTS)
def test_a_read_only_token_cannot_write(client, tokens, method, path, scope):
    response = call(client, method, path, **bearer(tokens["reader"]))
    assert response.status_code == 403
    assert "'write'" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), READ_ENDPOINTS)
def test_a_write_only_token_cannot_read(client, tokens, method, path, scope):
    response = call(client, method, path, **bearer(tokens["writer"]))
    assert response.status_code == 403
    assert "'read'" in response.json()["detail"]


class FrozenClock:
    """time.time() for the rate limiter: a fixed moment 20 s into a minute, so the test
    never straddles two windows."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_rate_limit_per_token_gives_429_with_retry_after(client, tokens, monkeypatch):
    clock = FrozenClock(1_800_000_020.0)
    monkeypatch.setattr("webapp.api.auth.time", clock)
    _, limited = api_client_create(
        user=trainer_with_tokens(), name="newsletter", scopes=["read"], requests_per_minute=3
    )
    path = "/api/v1/works/no-such-work"
    for _ in range(3):
        assert client.get(path, **bearer(limited)).status_code == 404
    refused = client.get(path, **bearer(limited))
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"
    assert "3 requests a minute" in refused.json()["detail"]
    # Another token has its own count.
    assert client.get(path, **bearer(tokens["reader"])).status_code == 404
    # The next minute is a new window.
    clock.now += 60
    assert client.get(path, **bearer(limited)).status_code == 404


def test_rate_limit_check_counts_per_window():
    from webapp.api.auth import RateLimited, rate_limit_check

    _, token = api_client_create(
        user=trainer_with_tokens(), name="tiny", scopes=["read"], requests_per_minute=2
    )
    client = client_of("tiny")
    start = 1_800_000_000.0  # the start of a minute
    rate_limit_check(client, now=start)
    rate_limit_check(client, now=start + 59)
    with pytest.raises(RateLimited) as refused:
        rate_limit_check(client, now=start + 59.5)
    assert refused.value.status_code == 429 and refused.value.retry_after == 1
    rate_limit_check(client, now=start + 60)  # a new window


def test_tokens_are_stored_only_as_a_sha256(tokens):
    for name, token in tokens.items():
        row = ApiClient.objects.filter(name=name).values().get()
        assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
        assert row["prefix"] == token[3:11] and len(row["prefix"]) < len(token)
        assert not any(token in str(value) for value in row.values())
        assert api_client_authenticate(token).name == name
    assert client_of("shop").scopes == ["read", "write"]


def test_a_request_records_when_the_token_was_last_used(client, tokens):
    assert client_of("reader").last_used_at is None
    client.get("/api/v1/works/no-such-work", **bearer(tokens["reader"]))
    assert client_of("reader").last_used_at is not None
    assert client_of("writer").last_used_at is None


def test_token_management_needs_the_permission(curator, tokens):
    with pytest.raises(PermissionDenied, match="api.manage_token"):
        api_client_create(user=curator, name="rogue", scopes=["read"])
    with pytest.raises(PermissionDenied, match="api.manage_token"):
        api_client_create(user=None, name="rogue", scopes=["read"])
    assert not ApiClient.objects.filter(name="rogue").exists()
    with pytest.raises(PermissionDenied, match="api.manage_token"):
        api_client_revoke(user=curator, client=client_of("reader"))
    assert client_of("reader").revoked_at is None
    assert api_client_authenticate(tokens["reader"]) is not None


def test_token_creation_checks_its_input(db):
    from django.core.exceptions import ValidationError

    user = trainer_with_tokens()
    for kwargs, field in (
        ({"name": " ", "scopes": ["read"]}, "name"),
        ({"name": "a", "scopes": []}, "scopes"),
        ({"name": "a", "scopes": ["admin"]}, "scopes"),
        ({"name": "a", "scopes": ["read"], "requests_per_minute": 0}, "requests_per_minute"),
    ):
        with pytest.raises(ValidationError) as refused:
            api_client_create(user=user, **kwargs)
        assert field in refused.value.message_dict
    api_client_create(user=user, name="a", scopes=["read"])
    with pytest.raises(ValidationError, match="exists already"):
        api_client_create(user=user, name="a", scopes=["read"])
    assert ApiClient.objects.count() == 1


@pytest.mark.parametrize("url", ["/catalogue/", "/jobs/", "/"])
def test_a_token_opens_no_curator_page(client, tokens, url):
    response = client.get(url, **bearer(tokens["shop"]))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_token_opens_no_admin_page(client, tokens):
    response = client.get("/admin/", **bearer(tokens["shop"]))
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_a_curator_session_opens_no_api_route(client, staff, method, path, scope):
    client.force_login(staff)
    assert client.get("/catalogue/").status_code == 200  # the session is a real login
    assert call(client, method, path).status_code == 401


def test_the_schema_needs_a_login_or_a_token(client, tokens, curator):
    url = "/api/v1/openapi.json"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")
    assert client.get("/api/v1/docs").status_code == 302
    assert client.get(url, **bearer("vt_" + "y" * 43)).status_code == 401

    by_token = client.get(url, **bearer(tokens["writer"]))  # any live token
    assert by_token.status_code == 200
    api_client_revoke(user=trainer_with_tokens(), client=client_of("writer"))
    assert client.get(url, **bearer(tokens["writer"])).status_code == 401

    client.force_login(curator)
    schema = client.get(url).json()
    assert schema["info"]["title"] == "Vitrine"
    paths = schema["paths"]
    for method, path, _ in ENDPOINTS:
        template = path.removeprefix("/api/v1").replace("demo-c0001", "{collector}")
        template = template.replace("demo-w00001", "{work}")
        assert method in paths[f"/api/v1{template}"], template
    assert len(paths) == len(ENDPOINTS)
    assert client.get("/api/v1/docs").status_code == 200


def test_cors_answers_only_the_shop_origin_and_only_under_api(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    preflight = {
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization",
    }
    path = "/api/v1/collectors/demo-c0001/recommendations"
    allowed = client.options(path, HTTP_ORIGIN="https://shop.example", **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "authorization" in allowed["Access-Control-Allow-Headers"].lower()

    other = client.options(path, HTTP_ORIGIN="https://evil.example", **preflight)
    assert "Access-Control-Allow-Origin" not in other

    page = client.options("/catalogue/", HTTP_ORIGIN="https://shop.example", **preflight)
    assert "Access-Control-Allow-Origin" not in page
    page = client.get("/accounts/login/", HTTP_ORIGIN="https://shop.example")
    assert page.status_code == 200 and "Access-Control-Allow-Origin" not in page

    # An actual (not preflight) API answer carries it too, even a refusal.
    answer = client.get(path, HTTP_ORIGIN="https://shop.example")
    assert answer.status_code == 401
    assert answer["Access-Control-Allow-Origin"] == "https://shop.example"
