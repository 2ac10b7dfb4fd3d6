"""API tokens: made and revoked by staff with the permission, kept only as a hash.

A token is 32 random bytes (secrets.token_urlsafe), so a plain sha256 of it is enough to
keep at rest: there is nothing to guess by brute force, unlike a password, and checking it
costs microseconds on every request instead of a password hash's deliberate 100 ms.
"""

import hashlib
import hmac
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp import permissions
from webapp.api.models import ApiClient

TOKEN_START = "vt_"
PREFIX_LENGTH = 8


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_client_create(
    *, user, name: str, scopes: list[str], requests_per_minute: int = 600
) -> tuple[ApiClient, str]:
    """A new client and its token, which is returned here once and never again."""
    permissions.permission_require(user=user, permission=permissions.API_TOKENS)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "name the client (e.g. storefront)"})
    unknown = sorted(set(scopes) - set(ApiClient.Scope.values))
    if unknown or not scopes:
        raise ValidationError(
            {"scopes": f"choose from {', '.join(ApiClient.Scope.values)}; got {scopes!r}"}
        )
    if requests_per_minute < 1:
        raise ValidationError({"requests_per_minute": "at least 1"})
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a client named {name!r} exists already"})
    for _ in range(5):  # a prefix collision is one in 10^14; retry rather than fail
        token = TOKEN_START + secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                client = ApiClient.objects.create(
                    name=name,
                    prefix=token[len(TOKEN_START) : len(TOKEN_START) + PREFIX_LENGTH],
                    token_hash=token_hash(token),
                    scopes=sorted(set(scopes)),
                    requests_per_minute=requests_per_minute,
                    created_by=user,
                )
            return client, token
        except IntegrityError:
            continue
    raise RuntimeError("could not make a unique token")


def api_client_revoke(*, user, client: ApiClient) -> ApiClient:
    """Revoke at once: the next request with the token gets 401. Kept as a row, so the
    impressions and events it logged still name it."""
    permissions.permission_require(user=user, permission=permissions.API_TOKENS)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
    return client


def api_client_authenticate(token: str) -> ApiClient | None:
    """The live client holding this token, or None (unknown, malformed or revoked)."""
    if not token.startswith(TOKEN_START) or len(token) < len(TOKEN_START) + PREFIX_LENGTH:
        return None
    prefix = token[len(TOKEN_START) : len(TOKEN_START) + PREFIX_LENGTH]
    client = ApiClient.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if client is None or not hmac.compare_digest(client.token_hash, token_hash(token)):
        return None
    return client
