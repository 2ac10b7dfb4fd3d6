"""A sale is an event: purchases mark works sold at their time (imports, the demo gallery,
the service), disagreements are named, and a sold work is never proposed again."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Min

from tests.catalogue.import_fixtures import (
    INTERACTION_HEADER,
    ITEM_HEADER,
    default_interactions,
    default_items,
    make_gallery,
    write_csv,
)
from webapp.catalogue.importing import gallery_import, parse_when
from webapp.catalogue.importing.report import SaleConflict
from webapp.catalogue.models import Artist, Artwork, Collector, Interaction
from webapp.catalogue.selectors import artworks_available
from webapp.catalogue.services import artwork_sales_apply

pytestmark = pytest.mark.django_db


def bought(report, kind: str) -> list[SaleConflict]:
    return [c for c in report.sale_conflicts if c.kind == kind]


# ---------------------------------------------------------------------------- the service


def test_sales_apply_takes_the_first_purchase_and_keeps_an_offline_sale(db):
    artist = Artist.objects.create(name="Ada")
    when = parse_when("2024-01-01")
    works = [
        Artwork.objects.create(external_id=str(n), title=f"W{n}", artist=artist, listed_at=when)
        for n in range(3)
    ]
    buyer, other = (Collector.objects.create(external_id=name) for name in ("u1", "u2"))
    first, later = parse_when("2024-02-01T10:00:00Z"), parse_when("2024-03-01")
    Interaction.objects.create(collector=other, artwork=works[0], kind="purchase", timestamp=later)
    Interaction.objects.create(collector=buyer, artwork=works[0], kind="purchase", timestamp=first)
    Interaction.objects.create(collector=buyer, artwork=works[1], kind="like", timestamp=first)
    Artwork.objects.filter(pk=works[2].pk).update(is_sold=True)  # sold outside the history

    assert artwork_sales_apply() == 1
    sold = {a.external_id: (a.is_sold, a.sold_at) for a in Artwork.objects.all()}
    assert sold == {"0": (True, first), "1": (False, None), "2": (True, None)}
    assert artwork_sales_apply(artwork_ids=[w.pk for w in works]) == 0  # idempotent

    # Without its purchases the sale time is gone; the flag stays (never re-listed silently).
    Interaction.objects.filter(artwork=works[0]).delete()
    assert artwork_sales_apply(artwork_ids=[works[0].pk]) == 1
    works[0].refresh_from_db()
    assert works[0].is_sold and works[0].sold_at is None


def test_a_purchase_stored_without_the_service_is_still_not_available(db):
    artist = Artist.objects.create(name="Ada")
    work = Artwork.objects.create(
        external_id="1", title="W", artist=artist, listed_at=parse_when("2024-01-01")
    )
    collector = Collector.objects.create(external_id="u1")
    assert list(artworks_available()) == [work]
    Interaction.objects.create(
        collector=collector, artwork=work, kind="purchase", timestamp=parse_when("2024-02-01")
    )
    assert not artworks_available().exists()


# ---------------------------------------------------------------------------- imports


def test_interactions_only_purchases_mark_works_sold_at_their_time(tmp_path, media_root):
    path = write_csv(
        tmp_path / "interactions.csv",
        INTERACTION_HEADER,
        [
            {"user_id": "u1", "item_id": "w1", "timestamp": "2024-04-01T12:00:00Z"},
            {"user_id": "u2", "item_id": "w2", "timestamp": "2024-04-02", "kind": "like"},
            {"user_id": "u2", "item_id": "w3", "timestamp": "2024-04-03", "kind": "add_to_cart"},
            {"user_id": "u3", "item_id": "w3", "timestamp": "2024-04-05", "kind": "purchase"},
            {"user_id": "u3", "item_id": "w3", "timestamp": "2024-04-04", "kind": "enquiry"},
        ],
    )
    report = gallery_import(items_path=None, interactions_path=path)

    assert report.written and report.sales.created == 2 and not report.sale_conflicts
    works = {a.external_id: a for a in Artwork.objects.all()}
    assert works["w1"].is_sold and works["w1"].sold_at == parse_when("2024-04-01T12:00:00Z")
    assert works["w3"].is_sold and works["w3"].sold_at == parse_when("2024-04-05")
    # A like (or any other kind) is not a sale.
    assert not works["w2"].is_sold and works["w2"].sold_at is None
    assert set(artworks_available()) == {works["w2"]}
    assert "sales:" in report.render() and "2 created" in report.render()


def test_a_purchase_marks_a_work_of_an_items_file_without_a_sold_column(tmp_path, media_root):
    items = [{k: v for k, v in row.items() if k != "sold"} for row in default_items()]
    gallery = make_gallery(tmp_path)
    gallery.write_items(items, header=[c for c in ITEM_HEADER if c != "sold"])
    gallery_import(**gallery.kwargs())
    sold = dict(Artwork.objects.values_list("external_id", "sold_at"))
    assert sold == {
        "101": parse_when("2024-04-01T12:00:00Z"),
        "102": parse_when("2024-04-04T07:00:00Z"),
        "103": None,
    }


def test_a_work_bought_by_two_collectors_is_a_warning_that_names_it(tmp_path, media_root):
    interactions = default_interactions()  # u3 buys 102 on line 6
    interactions.append({"user_id": "u2", "item_id": "102", "timestamp": "2024-04-03"})
    gallery = make_gallery(tmp_path, interactions=interactions)
    report = gallery_import(**gallery.kwargs())

    assert report.written  # a warning, not a refusal: editions exist
    (conflict,) = bought(report, SaleConflict.SOLD_TWICE)
    work = Artwork.objects.get(external_id="102")
    assert (conflict.item_id, conflict.title, conflict.artwork_pk) == ("102", "Blue study", work.pk)
    assert [(p.user_id, p.source) for p in conflict.purchases] == [
        ("u2", ("interactions.csv", 7)),
        ("u3", ("interactions.csv", 6)),
    ]
    text = report.render()
    assert "Warnings (1 work(s)):" in text
    assert "work '102' ('Blue study', artwork" in text and "bought by 2 collectors" in text
    assert "u2 at 2024-04-03T00:00:00Z (interactions.csv:7)" in text
    assert "u3 at 2024-04-04T07:00:00Z (interactions.csv:6)" in text
    # Sold from the first purchase.
    assert work.is_sold and work.sold_at == parse_when("2024-04-03")


def test_a_second_buyer_in_a_later_import_is_named_with_the_stored_purchase(tmp_path, media_root):
    gallery = make_gallery(tmp_path)
    gallery_import(**gallery.kwargs())
    gallery.write_items([])
    gallery.write_interactions([{"user_id": "u9", "item_id": "101", "timestamp": "2024-06-01"}])
    report = gallery_import(**gallery.kwargs(dry_run=True))
    (conflict,) = report.sale_conflicts
    assert conflict.item_id == "101" and conflict.title == "Sunset over the harbour"
    assert [str(p) for p in conflict.purchases] == [
        "u1 at 2024-04-01T12:00:00Z (in the catalogue)",
        "u9 at 2024-06-01T00:00:00Z (interactions.csv:2)",
    ]
    assert (report.sales.created, report.sales.unchanged) == (0, 1)


def test_sold_false_for_a_purchased_work_is_a_warning_and_it_stays_sold(tmp_path, media_root):
    items = default_items()
    items[0]["sold"] = "no"  # u1 bought 101 on line 2 of interactions.csv
    gallery = make_gallery(tmp_path, items=items)
    report = gallery_import(**gallery.kwargs())

    (conflict,) = report.sale_conflicts
    assert conflict.kind == SaleConflict.PURCHASED_NOT_SOLD
    assert (conflict.item_id, conflict.items_line) == ("101", 2)
    assert [p.source for p in conflict.purchases] == [("interactions.csv", 2)]
    assert "work '101' ('Sunset over the harbour', artwork" in report.render()
    assert "says sold=false on line 2 but was bought: u1 at 2024-04-01T12:00:00Z" in str(report)
    work = Artwork.objects.get(external_id="101")
    assert work.is_sold and work.sold_at == parse_when("2024-04-01T12:00:00Z")

    again = gallery_import(**gallery.kwargs())  # the same files: nothing to change
    assert again.artworks.unchanged == 3 and again.sales.unchanged == 2
    assert len(again.sale_conflicts) == 1


def test_sold_without_a_purchase_is_allowed_and_noted(tmp_path, media_root):
    items = default_items()
    items[2]["sold"] = "yes"  # 103 was only rated
    gallery = make_gallery(tmp_path, items=items)
    report = gallery_import(**gallery.kwargs())
    work = Artwork.objects.get(external_id="103")
    assert work.is_sold and work.sold_at is None
    assert not report.sale_conflicts
    assert any(
        "1 work(s) marked sold without a purchase" in note and "'103' (line 4)" in note
        for note in report.notes
    )


def test_the_command_prints_the_sale_warnings(tmp_path, media_root):
    interactions = default_interactions()
    interactions.append({"user_id": "u2", "item_id": "101", "timestamp": "2024-05-01"})
    gallery = make_gallery(tmp_path, interactions=interactions)
    out = StringIO()
    call_command("import_gallery", *gallery.argv(), stdout=out)
    assert "Warnings (1 work(s)):" in out.getvalue() and "work '101'" in out.getvalue()


# ---------------------------------------------------------------------------- demo gallery


def test_demo_purchases_mark_their_works_sold_and_likes_never_do(small_gallery):
    first_purchase = dict(
        Interaction.objects.filter(kind="purchase")
        .values("artwork_id")
        .annotate(first=Min("timestamp"))
        .values_list("artwork_id", "first")
    )
    assert first_purchase
    for pk, is_sold, sold_at in Artwork.objects.values_list("pk", "is_sold", "sold_at"):
        assert sold_at == first_purchase.get(pk) and is_sold == (pk in first_purchase)
    liked_only = Artwork.objects.filter(interactions__kind="like").exclude(
        interactions__kind="purchase"
    )
    assert liked_only.exists() and not liked_only.filter(is_sold=True).exists()


def test_a_purchase_entered_in_the_admin_sells_the_work_and_deleting_it_keeps_the_flag(
    admin_client,
):
    artist = Artist.objects.create(name="Ada")
    work = Artwork.objects.create(
        external_id="1", title="W", artist=artist, listed_at=parse_when("2024-01-01")
    )
    collector = Collector.objects.create(external_id="u1")
    response = admin_client.post(
        "/admin/catalogue/interaction/add/",
        {
            "collector": collector.pk,
            "artwork": work.pk,
            "kind": "purchase",
            "weight": "1",
            "timestamp_0": "2024-02-01",
            "timestamp_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    work.refresh_from_db()
    assert work.is_sold and work.sold_at == parse_when("2024-02-01T10:00:00Z")
    purchase = Interaction.objects.get()
    admin_client.post(f"/admin/catalogue/interaction/{purchase.pk}/delete/", {"post": "yes"})
    work.refresh_from_db()
    assert not Interaction.objects.exists() and work.is_sold and work.sold_at is None
