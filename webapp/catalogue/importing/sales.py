"""Phase 2, sales: a purchase is a sale. Which works the import marks sold and when, and
where the files (or the files and the catalogue) disagree about a sale.

The write phase derives the sale itself from the stored events (artwork_sales_apply);
this module only plans it: counts for the report, warnings naming the works, and the
`sold` value an items row must carry so that it does not undo a purchase.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from webapp.catalogue.importing.planning import chunks
from webapp.catalogue.importing.report import (
    MAX_NOTE_EXAMPLES,
    Counts,
    ImportReport,
    Purchase,
    SaleConflict,
)
from webapp.catalogue.importing.rows import InteractionRow, ItemRow
from webapp.catalogue.models import Artwork, Interaction

PURCHASE = Interaction.Kind.PURCHASE.value


def plan_sales(
    items: dict[str, ItemRow],
    interactions: list[InteractionRow],
    artworks: dict[str, Artwork],
    other_pks: dict[str, int],
    report: ImportReport,
) -> None:
    """Fill `report.sales`, `report.sale_conflicts` and a note on sales without a purchase.

    `artworks`: the items file's works already in the catalogue, by item id; `other_pks`:
    pks of the catalogue works the input names outside the items file. An items row that
    says sold=false (warned about) or blank for a purchased work loses its `is_sold` value
    here, so the write keeps the work sold and a re-import counts it unchanged.
    """
    purchases = _purchases(interactions, artworks, other_pks, report.interactions_file)
    stored = _stored_sales(artworks, other_pks)
    titles = {item_id: item.title for item_id, item in items.items()}
    titles.update({item_id: artwork.title for item_id, artwork in artworks.items()})
    pks = {item_id: artwork.pk for item_id, artwork in artworks.items()} | other_pks
    sales = Counts()
    for item_id, bought in purchases.items():
        first = bought[0].timestamp
        current = stored.get(item_id, (None, ""))[0]
        if current is None:
            sales.created += 1
        elif current != first:
            sales.updated += 1
        else:
            sales.unchanged += 1
        if len({p.user_id for p in bought}) > 1:
            report.sale_conflicts.append(
                SaleConflict(
                    kind=SaleConflict.SOLD_TWICE,
                    item_id=item_id,
                    title=titles.get(item_id) or stored.get(item_id, (None, ""))[1],
                    purchases=bought,
                    items_line=items[item_id].line if item_id in items else None,
                    artwork_pk=pks.get(item_id),
                )
            )
    report.sales = sales

    unknown_time: list[ItemRow] = []
    for item_id, item in items.items():
        if item_id in purchases and not item.values.get("is_sold", True):
            # The purchase decides; the write leaves the flag to artwork_sales_apply, so the
            # row neither unsells the work nor counts as a change to it.
            del item.values["is_sold"]
            if item.sold is None:  # a blank cell claims nothing
                continue
            report.sale_conflicts.append(
                SaleConflict(
                    kind=SaleConflict.PURCHASED_NOT_SOLD,
                    item_id=item_id,
                    title=item.title,
                    purchases=purchases[item_id],
                    items_line=item.line,
                    artwork_pk=pks.get(item_id),
                )
            )
        elif item_id not in purchases and item.sold:
            unknown_time.append(item)
    report.sale_conflicts.sort(key=lambda c: (c.items_line or 0, c.item_id, c.kind))
    if unknown_time:
        examples = ", ".join(
            f"{item.item_id!r} (line {item.line})" for item in unknown_time[:MAX_NOTE_EXAMPLES]
        )
        more = (
            f" and {len(unknown_time) - MAX_NOTE_EXAMPLES} more"
            if (len(unknown_time) > MAX_NOTE_EXAMPLES)
            else ""
        )
        report.notes.append(
            f"{report.items_file}: {len(unknown_time)} work(s) marked sold without a purchase, "
            f"so their sale time is unknown (sold_at empty): {examples}{more}"
        )


def _purchases(
    interactions: list[InteractionRow],
    artworks: dict[str, Artwork],
    other_pks: dict[str, int],
    interactions_file: str,
) -> dict[str, list[Purchase]]:
    """Every purchase of the works the input names, from the file and the catalogue,
    oldest first per item id; a file row already in the catalogue is counted once."""
    by_item: dict[str, dict[tuple[str, dt.datetime], Purchase]] = defaultdict(dict)
    item_of_pk = {artwork.pk: item_id for item_id, artwork in artworks.items()}
    item_of_pk.update({pk: item_id for item_id, pk in other_pks.items()})
    for chunk in chunks(sorted(item_of_pk)):
        for artwork_id, user_id, timestamp in Interaction.objects.filter(
            kind=PURCHASE, artwork_id__in=chunk
        ).values_list("artwork_id", "collector__external_id", "timestamp"):
            by_item[item_of_pk[artwork_id]][(user_id, timestamp)] = Purchase(
                user_id, timestamp, None
            )
    for row in interactions:
        if row.kind == PURCHASE:  # a row already stored is named by its line, more useful
            by_item[row.item_id][(row.user_id, row.timestamp)] = Purchase(
                row.user_id, row.timestamp, (interactions_file, row.line)
            )
    return {
        item_id: sorted(found.values(), key=lambda p: (p.timestamp, p.user_id))
        for item_id, found in by_item.items()
    }


def _stored_sales(
    artworks: dict[str, Artwork], other_pks: dict[str, int]
) -> dict[str, tuple[dt.datetime | None, str]]:
    """(sold_at, title) of the catalogue works the input names, by item id."""
    stored = {item_id: (a.sold_at, a.title) for item_id, a in artworks.items()}
    item_of_pk = {pk: item_id for item_id, pk in other_pks.items()}
    for chunk in chunks(sorted(item_of_pk)):
        for pk, sold_at, title in Artwork.objects.filter(pk__in=chunk).values_list(
            "pk", "sold_at", "title"
        ):
            stored[item_of_pk[pk]] = (sold_at, title)
    return stored
