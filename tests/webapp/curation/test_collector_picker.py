"""Naming a collector: by name, number or catalogue id, with suggestions as you type; each
method once in the menus; and a page that says when it shows another method than the one
asked for."""

import pytest
from django.urls import reverse

from webapp.catalogue.models import Collector
from webapp.curation.selectors.collectors import (
    CollectorNotFound,
    collector_pick,
    collector_suggestions,
)

pytestmark = pytest.mark.django_db

COMPARE = reverse("curation:compare")
SUGGEST = reverse("curation:collector-suggest")


@pytest.fixture
def named(db):
    return {
        "ada": Collector.objects.create(external_id="g-001", name="Ada Moreau"),
        "ben": Collector.objects.create(external_id="g-002", name="Ben Ito"),
        "ben2": Collector.objects.create(external_id="g-003", name="Ben Ito"),
        "anon": Collector.objects.create(external_id="g-004"),
    }


def test_a_collector_is_picked_by_number_catalogue_id_or_name(named):
    ada = named["ada"]
    for typed in (str(ada.pk), f"#{ada.pk}", " g-001 ", "Ada Moreau", "ada moreau"):
        assert collector_pick(typed) == ada, typed


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Choose a collector"),
        ("Ben Ito", "2 collectors are named “Ben Ito”: Ben Ito (#"),
        ("Ada", "No collector “Ada”: type a name, a number or a catalogue id"),
        ("nobody", "No collector “nobody”"),
    ],
)
def test_a_name_that_fits_no_single_collector_is_explained(named, typed, message):
    with pytest.raises(CollectorNotFound) as raised:
        collector_pick(typed)
    assert message in str(raised.value)


def test_the_error_suggests_collectors_near_what_was_typed(named):
    with pytest.raises(CollectorNotFound) as raised:
        collector_pick("Ada")
    assert f"Did you mean Ada Moreau (#{named['ada'].pk}, g-001)?" in str(raised.value)


def test_suggestions_match_a_name_an_id_or_a_number(named):
    assert [s["value"] for s in collector_suggestions(query="ben")] == ["g-002", "g-003"]
    assert [s["value"] for s in collector_suggestions(query="G-00")] == [
        "g-004",  # no name: "Collector" sorts by the empty name first
        "g-001",
        "g-002",
        "g-003",
    ]
    ada = named["ada"]
    assert collector_suggestions(query=f"#{ada.pk}")[0] == {
        "value": "g-001",
        "label": f"Ada Moreau (#{ada.pk}, g-001)",
    }
    assert collector_suggestions(query="  ") == []


def test_the_suggestions_endpoint_needs_a_login_and_answers_json(client, curator, named):
    assert client.get(SUGGEST, {"q": "ada"}).status_code == 302
    client.force_login(curator)
    response = client.get(SUGGEST, {"q": "ada"})
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "suggestions": [{"value": "g-001", "label": f"Ada Moreau (#{named['ada'].pk}, g-001)"}]
    }


def test_compare_takes_a_name_and_explains_an_unknown_collector(curator_client, trained):
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    methods = ["visrank", "popularity"]
    response = curator_client.get(COMPARE, {"collector": collector.name, "m": methods})
    assert response.context["result"].collector == collector
    response = curator_client.get(COMPARE, {"collector": "Nobody Atall", "m": methods})
    html = response.content.decode()
    assert response.context["result"] is None
    assert 'data-testid="collector-error"' in html and 'aria-invalid="true"' in html
    assert "No collector “Nobody Atall”" in html


def test_the_collectors_list_shows_what_the_picker_takes(curator_client, named):
    html = curator_client.get(reverse("curation:collector-list")).content.decode()
    for collector in named.values():
        assert f'data-testid="collector-number">{collector.pk}<' in html
        assert f'data-testid="collector-external-id">{collector.external_id}<' in html


def checkbox_values(html: str) -> list[str]:
    choices = html.split('data-testid="method-choices"')[1].split("</fieldset>")[0]
    return [part.split('"')[0] for part in choices.split('name="m" value="')[1:]]


def test_each_trained_job_is_one_checkbox(curator_client, trained):
    from .conftest import train

    second = train("visrank", aggregation="mean")  # not serving: one more job, one more box
    html = curator_client.get(COMPARE).content.decode()
    values = checkbox_values(html)
    assert len(values) == len(set(values)) == len(trained) + 1
    second.refresh_from_db()
    not_serving = second if not second.is_active else trained["visrank"]
    assert set(values) == {"popularity", "random", "visrank", f"job:{not_serving.pk}"}
    # a serving job named by id in the URL keeps that spelling, once
    random_job = trained["random"].pk
    html = curator_client.get(
        COMPARE, {"m": ["visrank", f"job:{random_job}"], "collector": "x"}
    ).content.decode()
    values = checkbox_values(html)
    assert f"job:{random_job}" in values and "random" not in values


@pytest.mark.parametrize(
    "asked, notice",
    [
        ("ease", "ease has not been trained yet; showing "),
        ("nonsense", "“nonsense” is not a method; showing "),
        ("job:999999", "Job #999999 has no model to serve"),
    ],
)
def test_the_collector_page_says_when_it_shows_another_method(
    curator_client, trained, asked, notice
):
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    url = reverse("curation:collector-detail", args=[collector.pk])
    response = curator_client.get(url, {"method": asked})
    shown = response.context["method"]
    html = response.content.decode()
    assert 'data-testid="method-notice"' in html and notice in html
    label = next(c.label for c in response.context["choices"] if c.value == shown)
    assert response.context["notice"].endswith(f"showing {label} instead.")
    quiet = curator_client.get(url, {"method": "popularity"})
    assert quiet.context["notice"] == "" and 'data-testid="method-notice"' not in (
        quiet.content.decode()
    )


def test_the_collector_menu_lists_each_job_once(curator_client, trained):
    collector = Collector.objects.first()
    url = reverse("curation:collector-detail", args=[collector.pk])
    choices = curator_client.get(url).context["choices"]
    jobs = [c.job.pk for c in choices]
    assert len(jobs) == len(set(jobs)) == len(trained)
