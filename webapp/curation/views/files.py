"""Every file a browser may read, each behind a login: a work's original image, its
thumbnails, and the photos a curator kept from a search (their owner only).

A file is found from a database row or a checksum, never from a path in the request, so
no URL reaches anything else in storage. Job artefacts (weights, configs, evaluations,
feature sets) have no view at all. Once the login is checked, Django streams the bytes, or
with VITRINE_SENDFILE the web server sends them through an internal redirect.
"""

import mimetypes
from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from webapp.catalogue.models import Artwork
from webapp.curation.selectors.image_search import search_photo_find
from webapp.curation.services import ThumbnailError, thumbnail_ensure

#: A name that is its content (a checksum) never changes: the browser may keep it.
FOREVER = "private, max-age=31536000, immutable"
#: A work's original may be replaced by a new import under the same URL.
AN_HOUR = "private, max-age=3600"


def image_file_response(name: str, *, content_type: str | None = None, cache: str):
    """The stored image ``name`` (a name the site made, never one from a request).

    With VITRINE_SENDFILE "nginx" the answer is an empty response whose X-Accel-Redirect
    names the file under VITRINE_SENDFILE_PREFIX (an nginx ``internal`` location over
    MEDIA_ROOT); with "apache" an X-Sendfile with the file's path. Storage without local
    files (S3) is always streamed by Django. Cache-Control always says private: a shared
    cache must never hand one curator's image to someone who has not logged in.
    """
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        path = None
    if settings.VITRINE_SENDFILE and path is not None:
        response = HttpResponse(content_type=content_type)
        if settings.VITRINE_SENDFILE == "nginx":
            prefix = settings.VITRINE_SENDFILE_PREFIX.rstrip("/")
            response["X-Accel-Redirect"] = f"{prefix}/{quote(name)}"
        else:
            response["X-Sendfile"] = path
    else:
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            raise Http404("the file is missing from storage") from None
        response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = cache
    return response


@login_required
@require_safe
def artwork_image(request, pk: int):
    """A work's original image, as it was imported."""
    artwork = Artwork.objects.filter(pk=pk).exclude(image="").only("image").first()
    if artwork is None:
        raise Http404("no such work, or it has no image")
    return image_file_response(artwork.image.name, cache=AN_HOUR)


@login_required
@require_safe
def thumbnail(request, size: str, checksum: str):
    """A WebP thumbnail, made on first request; its name is its content, so it is cached
    by the browser for good."""
    try:
        name = thumbnail_ensure(checksum=checksum, size=int(size))
    except ThumbnailError as error:
        raise Http404(str(error)) from None
    if name is None:
        raise Http404("no work has this image")
    return image_file_response(name, content_type="image/webp", cache=FOREVER)


@login_required
@require_safe
def search_photo(request, checksum: str):
    """A photo the logged-in curator kept from a search; another curator's is not found."""
    name = search_photo_find(user=request.user, checksum=checksum)
    if name is None:
        raise Http404("you kept no photo with this checksum")
    return image_file_response(name, cache=FOREVER)


def search_photo_url(name: str) -> str:
    """The URL of a kept photo, from the storage name search_photo_keep gave."""
    return reverse("curation:search-photo", args=[PurePosixPath(name).stem])
