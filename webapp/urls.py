from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from webapp.api.views import api

urlpatterns = [
    path("admin/", admin.site.urls),
    # The shop's API: tokens only, never a curator's session (webapp/api/auth.py).
    path("api/v1/", api.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("webapp.curation.urls")),
    # What browsers ask for on their own (and the admin, which has no icon link): the icon
    # only, no login. Resolved per request, as the static storage may hash its name.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"))),
]
# No /media/ route, in development or production: images are served by login-checked
# views (webapp/curation/views/files.py) and job artefacts by no URL at all.
