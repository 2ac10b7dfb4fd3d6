"""The job page's hyperparameters, and the site's icon."""

import pytest
from django.urls import reverse

from webapp.curation.templatetags.job_tags import param_rows
from webapp.jobs.models import TrainingJob

pytestmark = pytest.mark.django_db


def test_hyperparameters_are_a_table_with_nested_values_readable(client, curator):
    params = {
        "collaborative": "bpr",
        "weight": 0.7,
        "collaborative_params": {"factors": 16, "epochs": 3},
        "visual_params": {},
        "hidden": [128, 64],
        "features_pca": None,
        "features_l2": False,
    }
    job = TrainingJob.objects.create(method="hybrid_weighted", params=params)
    client.force_login(curator)
    html = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    table = html.split('data-testid="hyperparameters"')[1].split("</table>")[0]
    assert "{&#x27;" not in html and "&#x27;collaborative&#x27;" not in html  # no raw dict
    assert '<th scope="row"><code>weight</code></th><td>0.7 <span class="badge changed">' in table
    assert (
        '<tr class="nested"><th scope="row">' in table
        and "<code>factors</code></th><td>16</td>" in table
    )
    assert "<code>collaborative</code></th><td>bpr</td>" in table  # the default: not marked
    assert "<td>128, 64" in table and "<code>features_pca</code></th><td>not set</td>" in table


def test_param_rows_mark_what_differs_from_the_defaults():
    rows = param_rows({"lr": 0.01, "seed": 0, "inner": {"a": [1, 2]}}, {"lr": 0.001, "seed": 0})
    assert [(r.name, r.value, r.depth, r.default) for r in rows] == [
        ("lr", "0.01", 0, False),
        ("seed", "0", 0, True),
        ("inner", "", 0, False),
        ("a", "1, 2", 1, False),
    ]


def test_the_icon_needs_no_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302)
    assert response["Location"].endswith("favicon.svg")


def test_pages_link_the_icon(client, curator):
    client.force_login(curator)
    html = client.get(reverse("curation:collector-list")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
