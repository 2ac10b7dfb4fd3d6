"""Curator pages, one module per area. Views read through selectors and write through
services, nothing more."""

from webapp.curation.views.collectors import collector_detail, collector_list
from webapp.curation.views.jobs import (
    job_action,
    job_detail,
    job_list,
    job_new,
    job_status,
    job_train,
)

__all__ = [
    "collector_detail",
    "collector_list",
    "job_action",
    "job_detail",
    "job_list",
    "job_new",
    "job_status",
    "job_train",
]
