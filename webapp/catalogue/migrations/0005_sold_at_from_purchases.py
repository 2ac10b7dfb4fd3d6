"""A purchase is a sale: works bought before sold_at existed get their sale time, and the
flag, from their earliest purchase (the service artwork_sales_apply does this from now on)."""

from django.db import migrations
from django.db.models import Min


def sales_from_purchases(apps, schema_editor):
    Artwork = apps.get_model("catalogue", "Artwork")
    Interaction = apps.get_model("catalogue", "Interaction")
    first_sales = (
        Interaction.objects.filter(kind="purchase")
        .values("artwork_id")
        .annotate(first=Min("timestamp"))
        .values_list("artwork_id", "first")
    )
    changed = []
    for artwork_id, first in first_sales.iterator(chunk_size=2000):
        changed.append(Artwork(pk=artwork_id, sold_at=first, is_sold=True))
    Artwork.objects.bulk_update(changed, ["sold_at", "is_sold"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0004_event_kind_weight_sold_at"),
    ]

    operations = [
        # Reversing drops sold_at with 0004; is_sold stays as it was made true, as it should.
        migrations.RunPython(sales_from_purchases, migrations.RunPython.noop),
    ]
