"""Job artefacts (models, checkpoints, evaluations, indexes) move out of the images'
storage into the artefact storage, which nothing serves (webapp/storage.py)."""

from django.core.files.storage import storages
from django.db import migrations

import webapp.storage


def jobs_to_artefacts(apps, schema_editor):
    webapp.storage.storage_tree_move(
        source=storages["default"], target=storages["artefacts"], root="jobs"
    )


def jobs_to_media(apps, schema_editor):
    webapp.storage.storage_tree_move(
        source=storages["artefacts"], target=storages["default"], root="jobs"
    )


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_served_model")]

    operations = [migrations.RunPython(jobs_to_artefacts, jobs_to_media, elidable=True)]
