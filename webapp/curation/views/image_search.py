"""Search by photo: a curator uploads a picture (a painting a client liked, a wall) and
sees the available works that look most like it under the active features."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from webapp.curation.forms import PhotoSearchForm
from webapp.curation.selectors.image_search import (
    photo_open,
    photo_preview,
    photo_search,
    photo_search_unavailable,
)
from webapp.curation.selectors.visual import feature_set_active
from webapp.curation.services import search_photo_keep
from webapp.curation.uploads import PhotoUploadHandler
from webapp.curation.views.files import search_photo_url


# Exempt only so that the upload handler is in place before the CSRF check reads the
# body (Django's documented pattern); _image_search checks the token itself.
@csrf_exempt
@login_required
def image_search(request):
    handler = PhotoUploadHandler(request)
    request.upload_handlers = [handler]
    return _image_search(request, handler)


@csrf_protect
@require_http_methods(["GET", "POST"])
def _image_search(request, handler: PhotoUploadHandler):
    feature_set = feature_set_active()
    context = {"feature_set": feature_set, "unavailable": photo_search_unavailable(feature_set)}
    if request.method != "POST":
        context["form"] = PhotoSearchForm()
        return render(request, "curation/image_search.html", context)
    form = PhotoSearchForm(request.POST, request.FILES, refused=handler.refused)
    context["form"] = form
    if form.is_valid() and not context["unavailable"]:
        name = form.cleaned_data["photo"].name
        try:
            image = photo_open(form.photo_bytes)
        except (OSError, ValueError, SyntaxError) as error:  # e.g. a malformed EXIF block
            form.add_error("photo", f"“{name}” could not be read: {error}.")
            return render(request, "curation/image_search.html", context)
        context["matches"] = photo_search(image=image)
        context["feature_set"] = context["matches"].feature_set
        context["preview"] = photo_preview(image)
        context["photo_name"] = name
        if form.cleaned_data["keep"]:
            context["kept"] = search_photo_keep(
                user=request.user, data=form.photo_bytes, extension=form.photo_extension
            )
            context["kept_url"] = search_photo_url(context["kept"])
    return render(request, "curation/image_search.html", context)
