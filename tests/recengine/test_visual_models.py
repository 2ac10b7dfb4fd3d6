"""The visual models: what they learn, cold start, fine-tuning (the guided sampler's own
tests are in test_guided_sampling.py)."""

import numpy as np
import pytest
import torch
from PIL import Image

from recengine import create_model, evaluate
from recengine.models.curatornet import pool_profiles
from recengine.splits import cold_start_items_split, temporal_leave_last_out

from .toys import COLOURS, gallery, own_style_share


def test_pool_profiles_mean_and_max_with_an_empty_profile():
    vectors = torch.tensor([[1.0, 4.0], [3.0, 0.0], [5.0, 5.0]])
    pooled = pool_profiles(vectors, torch.tensor([0, 0, 2]), 3)
    assert pooled.tolist() == [[2.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [5.0, 5.0, 5.0, 5.0]]


@pytest.mark.parametrize("sampling", ["uniform", "guided"])
def test_curatornet_learns_styles_and_serves_new_collectors(sampling):
    data = gallery()
    model = create_model(
        "curatornet", sampling=sampling, epochs=15, batch_size=32, lr=1e-3, clusters=4
    ).fit(data)
    assert own_style_share(model, np.arange(40)) >= 0.9
    # a new collector who picked three blue works gets blue works, without retraining
    scores = model.score_profiles([np.array([21, 25, 33])])[0]
    assert scores[20:].mean() > scores[:20].mean()
    explained = model.explain_profiles([np.array([2, 25])], np.array([[30, 4]]))
    assert explained.tolist() == [[25, 2]]  # each pick explained by the work of its style


def test_vbpr_and_curatornet_score_works_listed_after_training():
    data = gallery()
    split = cold_start_items_split(data, share=0.25, seed=1)
    cold = np.unique(split.test.items)
    for name, params in (
        ("vbpr", {"epochs": 30, "batch_size": 32, "lr": 5e-3}),
        ("curatornet", {"epochs": 15, "batch_size": 32, "lr": 3e-3}),
    ):
        model = create_model(name, **params).fit(split.train)
        # cold items exist in the index but had no interactions: scored from features
        visual = evaluate(model, split.train, split.test, ks=(5,), metrics=("AUC",))
        popular = evaluate(
            create_model("popularity").fit(split.train),
            split.train,
            split.test,
            ks=(5,),
            metrics=("AUC",),
        )
        assert visual.metrics["AUC"] > popular.metrics["AUC"] + 0.2, name
        # and works added after training are scored like their style
        before = model.n_items
        model.add_items(["new-red", "new-blue"], features=data.item_features[[0, 39]])
        scores = model.score(np.array([0, 1]))  # user 0 buys red, user 1 blue
        assert model.n_items == before + 2
        assert scores[0, -2] > scores[0, -1] and scores[1, -1] > scores[1, -2], name
        assert len(cold)


def test_vbpr_cold_item_has_only_the_visual_term():
    data = gallery()
    model = create_model("vbpr", epochs=2, batch_size=64).fit(data)
    model.add_items(["new"], features=data.item_features[:1])
    module = model.module_
    assert module.gamma_item.weight[-1].abs().sum() == 0 and module.beta_item.weight[-1] == 0
    with pytest.raises(NotImplementedError):
        model.score_profiles([np.array([1, 2])])  # VBPR has per-user vectors


def test_dvbpr_learns_from_pixels_and_embeds_new_images(tmp_path):
    data = gallery(tmp_path)
    model = create_model(
        "dvbpr",
        backbone="test_resnet",
        image_size=32,
        epochs=8,
        batch_size=32,
        lr=3e-3,
        item_factors=0,
    )
    model.checkpoint_path = str(tmp_path / "dvbpr.pt")
    model.fit(data)
    assert (tmp_path / "dvbpr.pt").exists()
    assert own_style_share(model, np.arange(40)) >= 0.8
    # two new works painted like the catalogue (a flat colour would be unlike any of them)
    rng = np.random.default_rng(99)
    paths = []
    for style in (0, 1):
        pixels = COLOURS[style] + rng.integers(-30, 30, size=(16, 16, 3))
        paths.append(tmp_path / f"new-{style}.png")
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(paths[-1])
    model.add_items(["new-red", "new-blue"], images=[str(p) for p in paths])
    scores = model.score(np.array([0, 1]))  # user 0 buys red, user 1 blue
    assert scores[0, -2] > scores[0, -1] and scores[1, -1] > scores[1, -2]


def test_fine_tuning_trains_only_the_last_stage(tmp_path):
    data = gallery(tmp_path)
    model = create_model(
        "curatornet",
        fine_tune=True,
        backbone="test_resnet",
        image_size=32,
        epochs=2,
        batch_size=32,
        lr=1e-2,
    )
    from recengine.features.backbones import create_backbone, resolve_weights

    start = create_backbone("test_resnet", resolve_weights(None)).state_dict()
    model.fit(data)
    tuned = model.module_.tower.backbone.state_dict()
    changed = {
        k for k in start if start[k].dtype.is_floating_point and not torch.equal(start[k], tuned[k])
    }
    assert changed and all(k.startswith("layer4") for k in changed)
    assert model.features_.shape == (40, model.shape_["n_features"])
    with pytest.raises(ValueError, match="give the new works' images"):
        model.add_items(["x"], features=np.zeros((1, 4)))
    model.add_items(["x"], images=[data.item_images[0]])
    assert model.score(np.array([0])).shape == (1, 41)


def test_temporal_split_of_the_gallery_is_sane():
    split = temporal_leave_last_out(gallery())
    assert len(split.test) == 40 and len(split.valid) == 40
