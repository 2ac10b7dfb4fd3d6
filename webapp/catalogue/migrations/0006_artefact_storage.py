"""Feature sets move out of the images' storage into the artefact storage, files too: a
web server serving the images' folder must not reach them (webapp/storage.py)."""

from django.core.files.storage import storages
from django.db import migrations, models

import webapp.storage


def features_to_artefacts(apps, schema_editor):
    webapp.storage.storage_tree_move(
        source=storages["default"], target=storages["artefacts"], root="features"
    )


def features_to_media(apps, schema_editor):
    webapp.storage.storage_tree_move(
        source=storages["artefacts"], target=storages["default"], root="features"
    )


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0005_sold_at_from_purchases")]

    operations = [
        migrations.AlterField(
            model_name="featureset",
            name="file",
            field=models.FileField(storage=webapp.storage.artefact_storage, upload_to="features/"),
        ),
        migrations.RunPython(features_to_artefacts, features_to_media, elidable=True),
    ]
