"""Who is calling the API: a bearer token with a scope, within its rate limit.

The API answers only to tokens: a curator's session cookie opens no API route, and a token
opens no page of the site (the pages check the Django login, which a token never sets).
"""

import time

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.security import HttpBearer

from webapp.api.models import ApiClient
from webapp.api.tokens import api_client_authenticate

LAST_USED_EVERY_S = 60  # last_used_at is written at most this often: not a write per request


class RateLimited(HttpError):
    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(429, f"rate limit of {limit} requests a minute reached for this token")
        self.retry_after = retry_after


def rate_limit_check(client: ApiClient, now: float | None = None) -> None:
    """A fixed one-minute window per token, counted in the cache (per process with the
    default in-memory cache; shared by every worker process with VITRINE_CACHE_URL=redis://)."""
    now = time.time() if now is None else now
    window = int(now // 60)
    key = f"vitrine:api-rate:{client.pk}:{window}"
    cache.add(key, 0, 120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, 120)
        count = 1
    if count > client.requests_per_minute:
        raise RateLimited(retry_after=60 - int(now % 60), limit=client.requests_per_minute)


def _touch(client: ApiClient) -> None:
    if cache.add(f"vitrine:api-used:{client.pk}", 1, LAST_USED_EVERY_S):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())


class TokenAuth(HttpBearer):
    """`Authorization: Bearer vt_…` holding `scope`."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        # The plain value: repr() of a TextChoices member is "ApiClient.Scope.READ", which
        # the 403 message would otherwise show the shop instead of 'read'.
        self.scope = str(scope)

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = api_client_authenticate(token)
        if client is None:
            raise AuthenticationError(401, "unknown or revoked token")
        if self.scope not in client.scopes:
            raise AuthorizationError(
                403,
                f"this token lacks the {self.scope!r} scope (it has: {', '.join(client.scopes)})",
            )
        rate_limit_check(client)
        _touch(client)
        return client


READ = TokenAuth(ApiClient.Scope.READ)
WRITE = TokenAuth(ApiClient.Scope.WRITE)


def any_token_or_login(view):
    """For the schema and its docs page: a logged-in user of the site or any live token."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.http import JsonResponse

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer ") and api_client_authenticate(header[7:].strip()):
            return view(request, *args, **kwargs)
        if header:
            return JsonResponse({"detail": "unknown or revoked token"}, status=401)
        return redirect_to_login(request.get_full_path())

    return wrapper
