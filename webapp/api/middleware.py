"""Text with a NUL character is refused at the API's door (400): PostgreSQL cannot store
or even compare it (a lookup raises DataError, a 500), and no id or name has one."""

from django.conf import settings
from django.http import JsonResponse

PREFIX = "/api/"


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PREFIX):
            field = _nul_field(request)
            if field is not None:
                return JsonResponse(
                    {"detail": f"{field}: text may not contain a NUL character", "field": field},
                    status=400,
                )
        return self.get_response(request)


def _nul_field(request) -> str | None:
    if "\x00" in request.path:
        return "path"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            return name.replace("\x00", "")
    content_type = request.content_type or ""
    if content_type == "application/json" and b"\\u0000" in request.body:
        return "body"
    if content_type.startswith("multipart/") and request.method == "POST":
        if not _small(request):
            return None  # an image upload: its form fields are numbers, checked by the view
        try:
            _ = request.body  # read once and kept, so a view that wants the raw body still can
            fields = request.POST.lists()  # form fields; files may hold any byte
        except Exception:  # a malformed body: the view's own parsing answers for it
            return None
        for name, values in fields:
            if "\x00" in name or any("\x00" in v for v in values):
                return name.replace("\x00", "")
    return None


def _small(request) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is None or int(request.META.get("CONTENT_LENGTH") or 0) <= limit
