import pytest

from webapp.catalogue.models import Artwork
from webapp.curation.selectors.recommenders import (
    recommender_choices,
    recommender_resolve,
    served_model,
)
from webapp.curation.selectors.visitor import visitor_recommendations

from .conftest import train

pytestmark = pytest.mark.django_db


def test_choices_name_served_methods_and_every_finished_job(trained):
    second = train("visrank", aggregation="mean")
    values = [c.value for c in recommender_choices()]
    assert values[:3] == ["popularity", "random", "visrank"]
    assert {f"job:{j.pk}" for j in [*trained.values(), second]} <= set(values)
    labels = {c.value: c.label for c in recommender_choices()}
    assert "aggregation=mean" in labels[f"job:{second.pk}"]
    assert recommender_resolve("visrank") == second  # the newest training serves
    assert recommender_resolve(f"job:{trained['visrank'].pk}") == trained["visrank"]
    for nonsense in ("job:999999", "job:x", "job:1/../2", "", "bpr"):
        assert recommender_resolve(nonsense) is None


def twin_of(work: Artwork) -> Artwork:
    return Artwork.objects.create(
        external_id=f"twin-{work.pk}",
        title="A twin",
        artist=work.artist,
        listed_at=work.listed_at,
        image=work.image.name,
        image_checksum=work.image_checksum,
    )


def test_a_work_listed_after_training_is_served_without_retraining(trained):
    picked = list(Artwork.objects.exclude(image="").order_by("pk").values_list("pk", flat=True)[:3])
    twin = twin_of(Artwork.objects.get(pk=picked[0]))
    visrank = visitor_recommendations(picked=picked)[0]
    # the same picture as a picked work: cosine 1, first, explained by that pick
    assert visrank.items[0].artwork == twin and visrank.items[0].because.pk == picked[0]


def test_models_that_cannot_take_new_works_are_not_asked_on_every_request(trained, monkeypatch):
    twin_of(Artwork.objects.exclude(image="").first())
    from webapp.jobs import serving

    calls = []
    original = serving._extend
    monkeypatch.setattr(
        serving, "_extend", lambda job, model: calls.append(job.pk) or original(job, model)
    )
    popularity = trained["popularity"]
    first, second = served_model(popularity), served_model(popularity)
    assert first is second and calls == [popularity.pk]
    twin_of(Artwork.objects.exclude(image="").last())  # a newer work: worth one more try
    served_model(popularity)
    assert calls == [popularity.pk, popularity.pk]
