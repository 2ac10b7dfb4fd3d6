"""Training, cancelling, requeueing and serving are permissions (webapp/permissions.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("jobs", "0005_artefact_storage")]

    operations = [
        migrations.AlterModelOptions(
            name="trainingjob",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("train_job", "Can queue training and feature-extraction jobs"),
                    ("cancel_job", "Can cancel a job"),
                    ("requeue_job", "Can requeue a failed or cancelled job"),
                    ("serve_job", "Can choose the model served for a method"),
                ],
            },
        ),
    ]
