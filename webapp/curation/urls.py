from django.urls import path, re_path

from webapp.curation import views

app_name = "curation"
urlpatterns = [
    path("", views.collector_list, name="collector-list"),
    path("collectors/<int:pk>/", views.collector_detail, name="collector-detail"),
    path("collectors/suggest/", views.collector_suggest, name="collector-suggest"),
    path("catalogue/", views.artwork_list, name="artwork-list"),
    path("catalogue/map/", views.catalogue_map_page, name="catalogue-map"),
    path("catalogue/<int:pk>/", views.artwork_detail, name="artwork-detail"),
    # Image files, each behind a login, found by a row or a checksum (views/files.py).
    path("catalogue/<int:pk>/image/", views.artwork_image, name="artwork-image"),
    path("search/photo/", views.image_search, name="image-search"),
    re_path(
        r"^search/photo/kept/(?P<checksum>[0-9a-f]{64})/$",
        views.search_photo,
        name="search-photo",
    ),
    # Only a known size and a sha256 digest reach the view; it checks both again.
    re_path(
        r"^thumbs/(?P<size>[0-9]{2,4})/(?P<checksum>[0-9a-f]{64})\.webp$",
        views.thumbnail,
        name="thumbnail",
    ),
    path("compare/", views.compare, name="compare"),
    path("methods/", views.methods, name="methods"),
    path("methods/export.<str:fmt>", views.methods_export, name="methods-export"),
    path("visitor/", views.visitor, name="visitor"),
    path("experiments/", views.experiment_list, name="experiment-list"),
    path("experiments/new/", views.experiment_new, name="experiment-new"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment-detail"),
    path("experiments/<int:pk>/stop/", views.experiment_end, name="experiment-stop"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/train/", views.job_train, name="job-train"),
    path("jobs/new/<str:kind>/<str:method>/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/do/<str:action>/", views.job_action, name="job-action"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/status/", views.job_status, name="job-status"),
]
