import math

import numpy as np
import pytest
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from webapp.catalogue.models import Artwork, Collector, Interaction
from webapp.catalogue.selectors import feature_set_load
from webapp.curation.selectors.recommenders import evaluation_model, served_model
from webapp.curation.selectors.side_by_side import NOT_FAIR
from webapp.jobs.models import Artefact
from webapp.jobs.serving import collector_consumed

from .conftest import train

pytestmark = pytest.mark.django_db

URL = reverse("curation:compare")


@pytest.fixture
def collector(trained):
    """The collector with the longest history: a profile left after holding one out."""
    consumed = Count("interactions", filter=Q(interactions__kind__in=["purchase", "like"]))
    return Collector.objects.annotate(n=consumed).order_by("-n", "pk").first()


def test_the_choice_lives_in_the_url(curator_client, trained, collector):
    random_job = trained["random"]
    params = {"collector": collector.pk, "m": ["visrank", "popularity", f"job:{random_job.pk}"]}
    response = curator_client.get(URL, params | {"k": 5})
    result = response.context["result"]
    assert [c.choice for c in result.columns] == params["m"]
    assert [c.job.pk for c in result.columns] == [
        trained["visrank"].pk,
        trained["popularity"].pk,
        random_job.pk,
    ]
    assert all(0 < len(c.items) <= 5 for c in result.columns)
    html = response.content.decode()
    for value in params["m"]:
        assert f'value="{value}" checked' in html
    assert f'value="{collector.pk}"' in html and '<option value="5" selected>' in html
    # the collector may be named by the catalogue id the list shows
    again = curator_client.get(URL, {"collector": collector.external_id, "m": params["m"]})
    assert again.context["result"].collector == collector


def test_each_column_is_asked_without_the_held_out_work(curator_client, trained, collector):
    consumed = list(collector_consumed(collector=collector))
    held_out = consumed[-1].artwork_id
    profile = {i.artwork_id for i in consumed} - {held_out}
    response = curator_client.get(URL, {"collector": collector.pk, "m": ["visrank", "popularity"]})
    result = response.context["result"]
    assert result.held_out.artwork_id == held_out and result.profile_size == len(profile)
    for column in result.columns:
        listed = [r.artwork.pk for r in column.items]
        assert not set(listed) & profile
        assert all(not r.artwork.is_sold or r.artwork.pk == held_out for r in column.items)
        rank = listed.index(held_out) + 1 if held_out in listed else None
        assert column.held_out_rank == rank
        if column.job.method == "visrank":  # explained by the profile, never the held-out
            assert all(r.because is None or r.because.pk in profile for r in column.items)


def test_a_found_held_out_work_is_marked(curator_client, trained, collector):
    held_out = list(collector_consumed(collector=collector))[-1].artwork_id
    # Three works left for sale: every column lists the held-out one within its top 5.
    keep = list(Artwork.objects.exclude(pk=held_out).values_list("pk", flat=True)[:3])
    Artwork.objects.exclude(pk__in=keep).update(is_sold=True)
    Interaction.objects.filter(collector=collector, artwork_id__in=keep).delete()
    response = curator_client.get(
        URL, {"collector": collector.pk, "m": ["visrank", "popularity", "random"], "k": 5}
    )
    columns = response.context["result"].columns
    assert all(c.held_out_rank is not None for c in columns)
    html = response.content.decode()
    assert html.count("held-out work</span>") == 3 and "found at rank" in html


def test_works_in_several_columns_are_highlighted(curator_client, trained, collector):
    visrank = trained["visrank"]
    response = curator_client.get(
        URL, {"collector": collector.pk, "m": ["visrank", f"job:{visrank.pk}"]}
    )
    result = response.context["result"]
    first, second = result.columns
    assert [r.artwork.pk for r in first.items] == [r.artwork.pk for r in second.items]
    assert result.shared == {r.artwork.pk: 2 for r in first.items}
    assert response.content.decode().count("in 2 lists") == 2 * len(first.items)


def test_diversity_and_novelty_of_each_list(curator_client, trained, collector):
    held_out = list(collector_consumed(collector=collector))[-1]
    response = curator_client.get(URL, {"collector": collector.pk, "m": ["visrank", "popularity"]})
    ids, vectors = feature_set_load(feature_set=trained["visrank"].feature_set)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    row = {int(pk): i for i, pk in enumerate(ids)}
    n_collectors = Collector.objects.count()
    for column in response.context["result"].columns:
        listed = [r.artwork.pk for r in column.items]
        block = unit[[row[pk] for pk in listed]]
        distances = [
            1 - block[i] @ block[j] for i in range(len(block)) for j in range(i + 1, len(block))
        ]
        assert column.diversity == pytest.approx(np.mean(distances), abs=1e-5)
        takers = [
            Interaction.objects.filter(artwork_id=pk, kind__in=["purchase", "like"])
            .exclude(pk=held_out.pk)  # the held-out purchase does not make a work popular
            .values("collector")
            .distinct()
            .count()
            for pk in listed
        ]
        information = [-math.log2((n + 1) / (n_collectors + 1)) for n in takers]
        assert column.novelty == pytest.approx(np.mean(information))


@pytest.mark.parametrize(
    "methods, message",
    [
        (["visrank"], "Choose 2 to 4 methods (you chose 1)"),
        (["visrank", "popularity", "random", "ease", "knn"], "Choose 2 to 4 methods (you chose 5)"),
        (["visrank", "popularity", "nope"], "“nope” is not a trained method"),
        (["visrank", "nope"], "“nope” is not a trained method"),
    ],
)
def test_a_wrong_choice_is_explained(curator_client, trained, collector, methods, message):
    response = curator_client.get(URL, {"collector": collector.pk, "m": methods})
    assert response.context["result"] is None
    assert message in response.content.decode()


def test_an_unknown_collector_is_explained(curator_client, trained):
    response = curator_client.get(URL, {"collector": "nobody", "m": ["visrank", "popularity"]})
    assert "No collector “nobody”" in response.content.decode()


def test_a_collector_with_one_work_has_nothing_to_hold_out(curator_client, trained):
    collector = Collector.objects.create(external_id="c-one")
    Interaction.objects.create(
        collector=collector, artwork=Artwork.objects.first(), timestamp="2024-01-01T00:00Z"
    )
    response = curator_client.get(URL, {"collector": collector.pk, "m": ["visrank", "popularity"]})
    assert "fewer than two purchases or likes" in response.content.decode()


# ------------------------------------------------------------ a fair held-out test
@pytest.fixture
def only_taker(small_gallery):
    """A collector whose held-out (last) purchase no other collector took, with three other
    works left for sale; then popularity and random trained. A model that counts the
    held-out purchase ranks that work first for having been bought once, by this very
    collector."""
    consumed = Count("interactions", filter=Q(interactions__kind__in=["purchase", "like"]))
    collector = Collector.objects.annotate(n=consumed).order_by("-n", "pk").first()
    held_out = list(collector_consumed(collector=collector))[-1]
    others = Interaction.objects.filter(artwork_id=held_out.artwork_id)
    others.exclude(collector=collector).delete()
    # Left for sale: works this collector never took and nobody bought.
    taken = Interaction.objects.filter(
        Q(collector=collector, kind__in=["purchase", "like"]) | Q(kind="purchase")
    ).values_list("artwork_id", flat=True)
    keep = list(
        Artwork.objects.exclude(pk__in=list(taken)).order_by("pk").values_list("pk", flat=True)[:3]
    )
    assert len(keep) == 3
    Artwork.objects.exclude(pk__in=keep).update(is_sold=True)
    jobs = {method: train(method) for method in ("popularity", "random")}
    return collector, held_out, jobs


def _popularity_column(client, collector):
    response = client.get(URL, {"collector": collector.pk, "m": ["popularity", "random"], "k": 5})
    assert response.status_code == 200
    return response, response.context["result"].columns[0]


def test_found_comes_from_a_model_that_never_saw_the_held_out_purchase(curator_client, only_taker):
    collector, held_out, jobs = only_taker
    job = jobs["popularity"]
    position = int(served_model(job).item_index([str(held_out.artwork_id)])[0])
    # The served model counted the held-out purchase; the evaluation model did not.
    assert served_model(job).counts[position] == 1
    assert evaluation_model(job).counts[position] == 0
    response, column = _popularity_column(curator_client, collector)
    assert column.model_used == "evaluation model" and column.fair
    scores = {r.artwork.pk: r.score for r in column.items}
    assert scores[held_out.artwork_id] == 0.0  # its count leaves the held-out event out
    assert column.found == (column.held_out_rank is not None)
    columns = response.context["result"].columns
    assert all(c.fair and c.model_used == "evaluation model" for c in columns)
    assert NOT_FAIR not in response.content.decode()


def test_a_model_that_saw_the_purchase_is_never_said_to_have_found_it(curator_client, only_taker):
    collector, held_out, jobs = only_taker
    # A job from before evaluation models were kept: only its served model is left, and
    # that model trained on the held-out purchase.
    Artefact.objects.filter(kind=Artefact.Kind.EVALUATION_MODEL).delete()
    response, column = _popularity_column(curator_client, collector)
    assert column.model_used == "served model" and not column.fair
    assert column.held_out_rank == 1  # listed first for the purchase it was fitted on
    assert not column.found
    html = response.content.decode()
    assert "found at rank" not in html and "listed at rank 1" in html
    assert html.count(NOT_FAIR) == 2  # both columns say so


def test_a_purchase_after_training_is_a_fair_test_of_the_served_model(curator_client, only_taker):
    collector, held_out, jobs = only_taker
    later = Artwork.objects.filter(is_sold=False).order_by("pk").first()
    newer = Interaction.objects.create(
        collector=collector,
        artwork=later,
        kind="purchase",
        timestamp=held_out.timestamp + timezone.timedelta(days=1),
    )
    response, column = _popularity_column(curator_client, collector)
    assert response.context["result"].held_out.pk == newer.pk
    assert column.model_used == "served model" and column.fair
    assert "came after the job trained" in column.fairness


def test_a_reference_line_is_labelled_as_one(curator_client, small_gallery):
    from recengine import model_info

    jobs = {method: train(method) for method in ("popularity", "oracle")}
    label = model_info("oracle")["reference"]
    collector = Collector.objects.filter(interactions__kind="purchase").distinct().first()
    response = curator_client.get(URL, {"collector": collector.pk, "m": ["popularity", "oracle"]})
    choices = {c.value: c.label for c in response.context["choices"]}
    assert label in choices["oracle"] and label in choices[f"job:{jobs['oracle'].pk}"]
    assert label not in choices["popularity"]
    assert list(choices)[0] == "popularity"  # methods before reference lines
    columns = response.context["result"].columns
    assert [c.reference for c in columns] == ["", label]
    html = response.content.decode().lower()
    assert "ceiling" not in html and "upper line" not in html
