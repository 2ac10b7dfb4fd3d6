"""Visual models and CNN features through jobs, serving and import (issue: visual heart)."""

from io import StringIO

import numpy as np
import pytest
from django.urls import reverse

from tests.acting import trainer
from webapp.catalogue.models import Artwork, Collector, FeatureSet, Interaction
from webapp.jobs.models import TrainingJob
from webapp.jobs.running import training_job_run
from webapp.jobs.services import training_job_create
from webapp.jobs.serving import collector_recommendations

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_folders(settings, tmp_path):
    settings.VITRINE_WEIGHTS_DIR = tmp_path / "weights"
    settings.VITRINE_FEATURE_CACHE = tmp_path / "feature-cache"
    settings.VITRINE_WEIGHTS_DIR.mkdir()


def run(method, **params):
    kind = params.pop("kind", TrainingJob.Kind.TRAIN)
    job = training_job_create(user=trainer(), method=method, params=params, kind=kind)
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    return job


def test_cnn_features_from_a_named_weights_file_are_recorded_and_cached(small_gallery, settings):
    from safetensors.torch import save_file

    from recengine.features.backbones import create_backbone, resolve_weights

    model = create_backbone("test_resnet", resolve_weights(None, seed=5))
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(settings.VITRINE_WEIGHTS_DIR / "test_resnet.safetensors"),
    )
    job = run(
        "test_resnet",
        kind=TrainingJob.Kind.EXTRACT,
        weights="test_resnet.safetensors",
        image_size=32,
        pca_dim=8,
    )
    feature_set = job.feature_set
    assert feature_set.n_items == Artwork.objects.count() and feature_set.dim == 8
    assert feature_set.params["weights"]["kind"] == "file"
    assert feature_set.weights_label.startswith("test_resnet.safetensors (sha256 ")
    assert "PCA 8" in feature_set.source
    cached = sorted(settings.VITRINE_FEATURE_CACHE.rglob("*.npy"))
    assert len(cached) == Artwork.objects.count()
    again = run(
        "test_resnet",
        kind=TrainingJob.Kind.EXTRACT,
        weights="test_resnet.safetensors",
        image_size=32,
        pca_dim=8,
    )
    assert "already extracted" in again.progress_message or again.progress == 1.0
    assert sorted(settings.VITRINE_FEATURE_CACHE.rglob("*.npy")) == cached  # nothing new
    # the job page names the backbone and the weights
    assert again.feature_set.source.startswith("test_resnet (test_resnet.safetensors")


def test_weights_are_only_read_from_the_weights_folder(small_gallery):
    job = training_job_create(
        user=trainer(),
        method="test_resnet",
        kind=TrainingJob.Kind.EXTRACT,
        params={"weights": "../../secret.pth"},
    )
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED
    assert "is not in" in job.error and not FeatureSet.objects.exists()


@pytest.mark.parametrize("method", ["curatornet", "vbpr"])
def test_visual_models_train_as_jobs_and_show_on_the_collector_page(
    method, small_gallery, client, curator
):
    job = run(method, epochs=3)
    assert job.feature_set.name == "handcrafted"
    assert 0 <= job.metrics["AUC"] <= 1 and "NDCG@20" in job.metrics
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    client.force_login(curator)
    page = client.get(reverse("curation:collector-detail", args=[collector.pk]), {"method": method})
    recommendations = page.context["recommendations"]
    assert recommendations.job.pk == job.pk and recommendations.items
    if method == "curatornet":  # profile models explain each pick by a consumed work
        consumed = set(collector.interactions.values_list("artwork_id", flat=True))
        assert all(
            r.because is not None and r.because.pk in consumed for r in recommendations.items
        )


def test_a_work_listed_after_training_is_recommended_from_its_image(small_gallery):
    job = run("visrank")
    collector = Collector.objects.filter(interactions__kind="purchase").first()
    liked = Interaction.objects.filter(collector=collector, kind="purchase").first().artwork
    twin = Artwork.objects.create(
        external_id="twin",
        title="A twin",
        artist=liked.artist,
        listed_at=liked.listed_at,
        image=liked.image.name,
        image_checksum=liked.image_checksum,
    )
    result = collector_recommendations(collector=collector, method="visrank", k=5)
    assert result.job.pk == job.pk
    # the same picture as a work they bought: cosine 1, first in the list
    assert result.items[0].artwork.pk == twin.pk and result.items[0].because.pk == liked.pk


def test_dvbpr_trains_on_the_gallery_images(small_gallery):
    job = run("dvbpr", backbone="test_resnet", image_size=32, epochs=1, batch_size=16)
    assert job.params["backbone"] == "test_resnet" and job.model_artefact.size > 0
    assert job.visual_source == "backbone: test_resnet (random init)"
    kinds = {a.kind for a in job.artefacts.all()}
    assert kinds == {
        "model",
        "embeddings",
        "index",
        "checkpoint",
        "evaluation",
        "evaluation_model",
    }


def test_an_import_of_interactions_and_embeddings_only_trains_the_feature_models(tmp_path):
    # The feature-set file is moved into place when the import's transaction commits.
    from tests.catalogue.import_fixtures import import_committed

    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,timestamp"]
    for user in range(12):
        for day, item in enumerate(rng.choice(10, 4, replace=False) + 10 * (user % 2)):
            lines.append(f"c{user},w{item},2024-01-{day + 1:02d}")
    (tmp_path / "interactions.csv").write_text("\n".join(lines) + "\n")
    ids = np.array([f"w{i}" for i in range(22)])  # w20, w21: listed, never bought
    vectors = np.vstack([np.eye(2)[np.arange(22) // 10 % 2] + rng.normal(0, 0.1, (22, 2))])
    np.savez(tmp_path / "embeddings.npz", ids=ids, vectors=vectors.astype(np.float32))
    report = import_committed(
        items_path=None,
        interactions_path=tmp_path / "interactions.csv",
        embeddings_path=tmp_path / "embeddings.npz",
    )
    assert report.artworks.created == 22 and report.feature_set == ("imported", 22, 2, True)
    assert Artwork.objects.get(external_id="w3").artist.name == "Unknown artist"
    collector = Collector.objects.get(external_id="c0")
    for method, params in (("curatornet", {"epochs": 3}), ("vbpr", {"epochs": 3}), ("visrank", {})):
        job = run(method, features="imported", **params)
        assert job.feature_set.name == "imported" and 0 <= job.metrics["AUC"] <= 1
        assert collector_recommendations(collector=collector, method=method, k=5).items
    # DVBPR learns from pixels, which an embeddings-only import does not have: it says so
    job = training_job_create(
        user=trainer(), method="dvbpr", params={"backbone": "test_resnet", "epochs": 1}
    )
    training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED
    assert "none of the 22 works has a readable" in job.error, job.error


def test_bench_gallery_runs_the_engine_benchmark_on_the_catalogue(small_gallery, tmp_path):
    import json

    from django.core.management import call_command

    out = tmp_path / "gallery.json"
    call_command(
        "bench_gallery",
        "--models",
        "popularity,visrank,curatornet@guided,oracle",
        "--protocol",
        "one-of-a-kind",
        "--k",
        "20",
        "--quiet",
        "--out",
        str(out),
        "--params",
        '{"curatornet@guided": {"sampling": "guided", "epochs": 2, "clusters": 4}}',
    )
    report = json.loads(out.read_text())
    rows = {row["model"]: row for row in report["models"]}
    assert set(rows) == {"popularity", "visrank", "curatornet@guided", "oracle"}
    assert report["protocol"] == "one-of-a-kind" and report["split"] == "purchase-time"
    assert report["snapshot"].startswith("gallery")
    assert rows["curatornet@guided"]["hyperparameters"]["sampling"] == "guided"
    assert rows["curatornet@guided"]["epoch_seconds"] > 0
    for row in rows.values():
        assert 0 <= row["metrics"]["AUC"] <= 1 and row["diagnostics"]["mean_candidates"] >= 1
    assert rows["oracle"]["reference"] == "reference: the generator's hidden tastes"
    assert set(rows["curatornet@guided"]["sampling_shares"]) >= {"next_basket", "missing_item"}
    assert report["command"].startswith("uv run python manage.py bench_gallery")
    assert report["dataset"].startswith("gallery (handcrafted")


def test_a_guided_job_records_the_share_of_triples_each_guideline_made(
    small_gallery, client, curator
):
    job = run(
        "curatornet", epochs=2, sampling="guided", clusters=4,
        guidelines="next_basket,profile_items,fake_profile_artist",
    )  # fmt: skip
    shares = job.state["sampling_shares"]
    assert {"next_basket", "profile_items", "fake_profile_artist"} <= set(shares)
    assert "artist_cluster" not in shares  # switched off: it made no triple
    assert sum(shares.values()) == pytest.approx(1.0)
    client.force_login(curator)
    html = client.get(reverse("curation:job-detail", args=[job.pk])).content.decode()
    assert "Training triples by sampling guideline" in html and "profile_items" in html


def test_bench_gallery_exports_what_the_peer_benchmark_reads(small_gallery, tmp_path, monkeypatch):
    from django.core.management import call_command

    from recengine import bench_peers
    from recengine.saved_data import load_benchmark_data
    from webapp.catalogue.datasets import catalogue_interactions

    path = tmp_path / "gallery.npz"
    call_command("bench_gallery", "--models", "vbpr", "--export", str(path), stdout=StringIO())
    saved = load_benchmark_data(path)
    events = saved.interactions
    assert (
        len(events) == len(catalogue_interactions()) and events.n_items == Artwork.objects.count()
    )
    assert events.item_features.shape[0] == events.n_items
    assert set(events.kind_names) == {"like", "purchase"}
    sold = Artwork.objects.filter(is_sold=True).count()
    assert (~np.isnan(saved.item_sold_at)).sum() == sold  # unsold: nan
    # The peer case's cold-start data: test works out of training, ranked among themselves.
    train, test, _, unseen, (excluded,), snapshot = bench_peers._case_data(
        "gallery", str(path), seed=0
    )
    assert snapshot.startswith("gallery (") and "@" in snapshot
    assert unseen.any() and not unseen[train.items].any() and unseen[test.items].all()
    for user in np.unique(test.users):
        assert set(excluded.items[excluded.users == user]) == set(np.flatnonzero(~unseen))
    monkeypatch.setitem(bench_peers.CASES["vbpr-gallery"], "epochs", 2)
    row = bench_peers.run_one("vbpr-gallery", "vitrine", threads=1, seed=0, gallery=str(path))
    assert len(row["epoch_seconds"]) == 2 and 0 <= row["metrics"]["AUC"] <= 1
    assert row["data"] == f"gallery {path}" and row["snapshot"] == snapshot
