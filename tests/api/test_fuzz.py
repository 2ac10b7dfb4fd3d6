"""The API fuzzed from its own OpenAPI schema (schemathesis): every operation gets
generated requests, valid and not, with a token holding both scopes; a 5xx answer, or an
error answer without a JSON detail, fails the test (the first run found one: the
error handlers' answers themselves raised). Bounded and seeded:
MAX_EXAMPLES per operation, derandomised, so CI runs the same cases each time.

Requests go through Django's test client (the whole middleware stack, the test's
database transaction kept), built from what schemathesis would send over HTTP."""

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings

from webapp.api.views import api

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 30
schema = schemathesis.openapi.from_dict(api.get_openapi_schema())


def _send(client, case, token):
    kwargs = case.as_transport_kwargs(
        base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}
    )
    path = kwargs["url"].removeprefix("http://testserver")
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in kwargs["headers"].items()
        if k.lower() not in ("content-type", "content-length")
    }
    method = kwargs["method"].upper()
    params = kwargs.get("params") or {}
    if method == "GET":
        return client.get(path, params, **headers)
    if (
        kwargs.get("files") is not None
        or kwargs.get("data") is not None
        and not isinstance(kwargs.get("data"), (bytes, str))
    ):
        data: dict[str, list] = {}
        for name, value in dict(kwargs.get("data") or {}).items():
            data.setdefault(name, []).append(value)
        files = kwargs.get("files") or {}
        for name, value in files.items() if isinstance(files, dict) else files:
            filename, content = value[0], value[1]
            if filename is None:  # a plain form field, sent as multipart
                data.setdefault(name, []).append(str(content))
                continue
            if isinstance(content, str):
                content = content.encode()
            data.setdefault(name, []).append(SimpleUploadedFile(filename, bytes(content or b"")))
        return client.post(path + _query(params), data, **headers)
    content_type = kwargs["headers"].get("Content-Type", "application/json")
    body = kwargs.get("json")
    if body is None:
        body = kwargs.get("data") or b""
    return client.generic(
        method,
        path + _query(params),
        _dump(body) if not isinstance(body, (bytes, str)) else body,
        content_type=content_type,
        **headers,
    )


def _query(params) -> str:
    from urllib.parse import urlencode

    return ("?" + urlencode(params, doseq=True)) if params else ""


def _dump(body) -> str:
    import json

    return json.dumps(body)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_error_and_answers_match_the_schema(case, client, served, tokens):
    response = _send(client, case, tokens["shop"])
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.content[:500]!r}"
    )
    if response.status_code < 300 or response.status_code in (400, 401, 403, 404, 409, 429):
        found = response.json()
        assert isinstance(found, dict) and found, f"{case.method} {case.formatted_path}: {found}"
        if response.status_code >= 400:
            assert found.get("detail"), f"an error without a detail: {found}"
