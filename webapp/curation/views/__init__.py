"""Curator pages, one module per area. Views read through selectors and write through
services, nothing more."""

from webapp.curation.views.catalogue import artwork_detail, artwork_list
from webapp.curation.views.catalogue_map import catalogue_map_page
from webapp.curation.views.collectors import collector_detail, collector_list, collector_suggest
from webapp.curation.views.compare import compare
from webapp.curation.views.experiments import (
    experiment_detail,
    experiment_end,
    experiment_list,
    experiment_new,
)
from webapp.curation.views.files import artwork_image, search_photo, thumbnail
from webapp.curation.views.image_search import image_search
from webapp.curation.views.jobs import (
    job_action,
    job_detail,
    job_list,
    job_new,
    job_status,
    job_train,
)
from webapp.curation.views.methods import methods, methods_export
from webapp.curation.views.visitor import visitor

__all__ = [
    "artwork_detail",
    "artwork_image",
    "artwork_list",
    "catalogue_map_page",
    "collector_detail",
    "collector_list",
    "collector_suggest",
    "compare",
    "experiment_detail",
    "experiment_end",
    "experiment_list",
    "experiment_new",
    "image_search",
    "job_action",
    "job_detail",
    "job_list",
    "job_new",
    "job_status",
    "job_train",
    "methods",
    "methods_export",
    "search_photo",
    "thumbnail",
    "visitor",
]
