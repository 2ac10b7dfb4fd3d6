"""/api/v1/: the shop's API (django-ninja), its OpenAPI schema at /api/v1/openapi.json and
the schema's docs page at /api/v1/docs, both for a logged-in user or a token holder."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Form, NinjaAPI, Query, Status
from ninja.errors import ValidationError
from ninja.files import UploadedFile

from webapp.api import schemas
from webapp.api.auth import READ, WRITE, RateLimited, any_token_or_login
from webapp.api.candidates import Filters
from webapp.api.events import EventError, EventIn, event_record
from webapp.api.lists import ListError, ServedItem, ServedList
from webapp.api.serving import Answer, collector_answer, visitor_answer
from webapp.api.works import WorkIn, work_list, work_status
from webapp.catalogue.models import Artwork, Collector

api = NinjaAPI(
    title="Vitrine",
    version="1",
    description="Recommendations for the shop, events in, every served list logged.",
    urls_namespace="api-v1",
    docs_decorator=any_token_or_login,
)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "file")]
    parts = [p for p in parts if p not in ("payload", "filters", "event", "work")] or parts
    return ".".join(parts)


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    field = _field(first.get("loc", ()))
    detail = f"{field}: {first.get('msg', 'invalid')}" if field else first.get("msg", "invalid")
    return api.create_response(
        request, {"detail": detail, "field": field, "errors": exc.errors}, status=400
    )


@api.exception_handler(ListError)
def _unservable(request, exc: ListError):
    return api.create_response(request, {"detail": str(exc), "field": exc.field}, status=exc.status)


@api.exception_handler(EventError)
def _refused(request, exc: EventError):
    return api.create_response(request, {"detail": str(exc), "field": exc.field}, status=exc.status)


@api.exception_handler(RateLimited)
def _limited(request, exc: RateLimited):
    response = api.create_response(request, {"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _item(position: int, item: ServedItem) -> dict:
    artwork = item.artwork
    return {
        "work": artwork.external_id,
        "title": artwork.title,
        "artist": str(artwork.artist),
        "medium": artwork.medium,
        "price": float(artwork.price) if artwork.price is not None else None,
        "position": position,
        "score": item.score,
        "propensity": item.propensity,
        "team": item.team,
        "explanation": {
            "text": item.explanation,
            "because": item.because.external_id if item.because else None,
        },
    }


def _list(request_id: str, served: ServedList, note: str = "") -> dict:
    policy = served.policy
    if not served.items and not note:
        note = f"{served.method} found no work for this request and these filters"
    return {
        "request_id": request_id,
        "policy": {
            "method": served.method,
            "job": served.job.pk if served.job else None,
            "model": served.model_label or policy.get("model", ""),
            "served_by": served.served_by,
            "experiment": policy.get("experiment"),
            "arm": policy.get("arm", ""),
            "epsilon": policy.get("epsilon", 0.0),
            "explored": policy.get("explored", False),
        },
        "items": [_item(i, item) for i, item in enumerate(served.items, start=1)],
        "note": note,
    }


def _answer(answer: Answer) -> dict:
    return _list(answer.request_id, answer.served)


def _filters(price_min, price_max, medium, availability) -> Filters:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ListError("price_min is above price_max", 400, "price_min")
    return Filters(price_min, price_max, tuple(medium or ()), availability)


ERRORS = {
    400: schemas.Problem,
    401: schemas.Problem,
    403: schemas.Problem,
    404: schemas.Problem,
    409: schemas.Problem,
    429: schemas.Problem,
    503: schemas.Problem,
}


@api.get(
    "/collectors/{collector}/recommendations",
    auth=READ,
    response={200: schemas.ListOut, **ERRORS},
    summary="A collector's recommendations",
)
def collector_recommendations(
    request: HttpRequest,
    collector: str,
    method: str = Query(
        "",
        max_length=100,
        description="a method or job:<id>; default: the "
        "running experiment's arm, else the best evaluated method",
    ),
    k: int = Query(20, ge=1, le=100),
    price_min: float | None = Query(None, ge=0),
    price_max: float | None = Query(None, ge=0),
    medium: list[str] = Query(default_factory=list, max_length=20),
    availability: str = Query("available", pattern="^(available|all)$"),
):
    found = Collector.objects.filter(external_id=collector).first()
    if found is None:
        raise ListError(
            f"no collector {collector!r}: for a visitor without history use "
            "POST /api/v1/recommendations/visitor",
            404,
            "collector",
        )
    answer = collector_answer(
        client=request.auth,
        collector=found,
        method=method,
        k=k,
        filters=_filters(price_min, price_max, medium, availability),
        nonce=uuid.uuid4().hex,
    )
    return _answer(answer)


@api.post(
    "/recommendations/visitor",
    auth=READ,
    response={200: schemas.ListOut, **ERRORS},
    summary="Recommendations for a visitor from works they liked (no retraining)",
)
def visitor_recommendations(request: HttpRequest, payload: schemas.VisitorIn):
    answer = visitor_answer(
        client=request.auth,
        works=payload.works,
        session=payload.session,
        method=payload.method,
        k=payload.k,
        filters=_filters(
            payload.price_min, payload.price_max, payload.medium, payload.availability
        ),
        nonce=uuid.uuid4().hex,
    )
    return _answer(answer)


def _work(external_id: str) -> Artwork:
    artwork = Artwork.objects.select_related("artist").filter(external_id=external_id).first()
    if artwork is None:
        raise ListError(f"no work with id {external_id!r}", 404, "work")
    return artwork


@api.get(
    "/works/{work}/similar",
    auth=READ,
    response={200: schemas.ListOut, **ERRORS},
    summary="Available works that look like this one",
)
def similar_works(request: HttpRequest, work: str, k: int = Query(20, ge=1, le=100)):
    from webapp.api.visual import similar_answer

    return _list(*similar_answer(client=request.auth, artwork=_work(work), k=k))


@api.post(
    "/search/image",
    auth=READ,
    response={200: schemas.ListOut, **ERRORS},
    summary="Available works that look like an uploaded photo",
)
def search_by_image(
    request: HttpRequest, image: File[UploadedFile], k: int = Form(20, ge=1, le=100)
):
    from webapp.api.visual import image_answer

    return _list(*image_answer(client=request.auth, data=_read(image, "image"), k=k))


def _read(upload: UploadedFile, field: str) -> bytes:
    limit = int(getattr(settings, "VITRINE_API_MAX_UPLOAD_BYTES", 20_000_000))
    if upload.size and upload.size > limit:
        raise EventError(field, f"larger than {limit} bytes")
    return upload.read()


@api.post(
    "/events",
    auth=WRITE,
    response={200: schemas.EventOut, 201: schemas.EventOut, **ERRORS},
    summary="Record a view, like or purchase (idempotent by event_id)",
)
def events_create(request: HttpRequest, payload: schemas.EventIn):
    stored, created = event_record(client=request.auth, event=EventIn(**payload.dict()))
    item = stored.impression_item
    return Status(
        201 if created else 200,
        {
            "event_id": stored.event_id,
            "created": created,
            "kind": stored.kind,
            "work": stored.payload["work"],
            "request_id": str(item.impression.request_id) if item else None,
            "position": item.position if item else None,
        },
    )


def _work_out(artwork: Artwork) -> dict:
    return {
        "work": artwork.external_id,
        "title": artwork.title,
        "artist": str(artwork.artist),
        "medium": artwork.medium,
        "price": float(artwork.price) if artwork.price is not None else None,
        "listed_at": artwork.listed_at,
        "sold": artwork.is_sold,
        "features": work_status(artwork),
        "features_error": artwork.features_error,
    }


@api.post(
    "/works",
    auth=WRITE,
    response={201: schemas.WorkOut, **ERRORS},
    summary="List a new work; it is recommended once a worker has described its image",
)
def works_create(
    request: HttpRequest,
    image: File[UploadedFile],
    external_id: str = Form(..., min_length=1, max_length=100),
    title: str = Form(..., min_length=1, max_length=300),
    artist: str = Form(..., min_length=1, max_length=200),
    medium: str = Form("", max_length=100),
    price: float | None = Form(None, ge=0),
    year: int | None = Form(None),
):
    artwork = work_list(
        work=WorkIn(
            external_id, title, artist, medium, None if price is None else str(price), year
        ),
        image=_read(image, "image"),
    )
    return Status(201, _work_out(artwork))


@api.get(
    "/works/{work}",
    auth=READ,
    response={200: schemas.WorkOut, **ERRORS},
    summary="A work, and whether it can be recommended yet",
)
def work_detail(request: HttpRequest, work: str):
    return _work_out(_work(work))
