import numpy as np
import pytest
from django.urls import reverse

from webapp.catalogue.models import Artwork
from webapp.jobs.serving import model_for_job

from .conftest import train

pytestmark = pytest.mark.django_db

URL = reverse("curation:visitor")


def picks(n: int) -> list[int]:
    return list(Artwork.objects.exclude(image="").order_by("pk").values_list("pk", flat=True)[:n])


def test_the_grid_is_a_plain_form_of_checkboxes(curator_client, small_gallery):
    response = curator_client.get(URL)
    html = response.content.decode()
    assert response.context["results"] is None
    assert html.count('type="checkbox" name="pick"') == len(response.context["grid"]) == 36
    assert "<script" not in html.split("<main", 1)[1]  # the form itself needs no JavaScript


@pytest.mark.parametrize(
    "count, message",
    [(2, "Pick at least 3 works you like (you picked 2)."), (11, "Pick at most 10 works")],
)
def test_too_few_or_too_many_picks_are_explained(curator_client, trained, count, message):
    response = curator_client.get(URL, {"pick": picks(count), "go": "1"})
    assert response.context["results"] is None
    assert message in response.content.decode()
    # the picks stay ticked so the visitor can fix them
    html = response.content.decode()
    assert all(f'value="{pk}" id="pick-{pk}" checked' in html for pk in picks(count))


def test_nonsense_picks_are_named(curator_client, trained):
    response = curator_client.get(URL, {"pick": ["x1", *picks(3)], "go": "1"})
    assert "“x1” is not a work." in response.content.decode()


def test_visrank_recommends_at_once_and_curatornet_is_reported_untrained(curator_client, trained):
    chosen = picks(4)
    response = curator_client.get(URL, {"pick": chosen, "go": "1"})
    visrank, curatornet = response.context["results"]
    assert curatornet.error == "CuratorNet has not been trained yet."
    assert "CuratorNet has not been trained yet." in response.content.decode()
    assert visrank.job == trained["visrank"] and len(visrank.items) > 0
    listed = [r.artwork.pk for r in visrank.items]
    assert not set(listed) & set(chosen)
    assert not any(r.artwork.is_sold for r in visrank.items)
    assert all(r.because is not None and r.because.pk in chosen for r in visrank.items)

    # the same list as the model's own recommend_profiles on those picks
    model = model_for_job(trained["visrank"])
    position = {key: i for i, key in enumerate(model.item_ids)}
    profile = np.asarray([position[str(pk)] for pk in chosen])
    unsold = set(Artwork.objects.filter(is_sold=False).values_list("pk", flat=True))
    mask = np.asarray([int(key) in unsold for key in model.item_ids])
    items, scores = model.recommend_profiles([profile], 12, exclude=[profile], candidates_mask=mask)
    assert [r.score for r in visrank.items] == pytest.approx(scores[0][items[0] >= 0].tolist())


def test_curatornet_answers_too_with_explanations(curator_client, small_gallery):
    train("visrank")
    train("curatornet", epochs=2)
    chosen = picks(3)
    response = curator_client.get(URL, {"pick": chosen, "go": "1"})
    for result in response.context["results"]:
        assert not result.error and result.items
        assert not {r.artwork.pk for r in result.items} & set(chosen)
        assert all(r.because is not None and r.because.pk in chosen for r in result.items)
    assert "because you liked" in response.content.decode()


def test_showing_other_works_keeps_the_picks(curator_client, small_gallery):
    chosen = picks(2)
    first = curator_client.get(URL, {"pick": chosen, "seed": 4})
    other = curator_client.get(URL, {"pick": chosen, "seed": 4, "shuffle": "1"})
    assert other.context["seed"] == 5
    assert [a.pk for a in other.context["grid"][:2]] == chosen
    assert [a.pk for a in first.context["grid"]] != [a.pk for a in other.context["grid"]]
    assert [a.pk for a in curator_client.get(URL, {"pick": chosen, "seed": 4}).context["grid"]] == [
        a.pk for a in first.context["grid"]
    ]
