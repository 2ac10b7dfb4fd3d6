"""CNN backbones and the extraction pipeline, on timm's tiny random models."""

import numpy as np
import pytest
import torch
from PIL import Image

from recengine import create_extractor, list_extractors
from recengine.features.backbones import (
    BACKBONES,
    create_backbone,
    last_stage_parameters,
    resolve_weights,
    set_trainable,
)
from recengine.features.cache import FeatureCache, extract_cached
from recengine.features.projection import FeatureProjection


def _images(n, size=48, seed=0):
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(n)
    ]


def test_every_required_backbone_is_an_extractor():
    assert set(BACKBONES) <= set(list_extractors())
    assert {"resnet50", "vgg19", "nasnetalarge", "vit_small_patch16_224"} <= set(BACKBONES)
    assert "test_resnet" not in list_extractors()  # tiny test models stay out of menus
    assert "test_resnet" in list_extractors(include_tests=True)


def test_random_init_is_seeded_and_labelled():
    weights = resolve_weights(None, seed=3)
    assert weights.kind == "random" and weights.label == "random init" and weights.id == "random-3"
    a = create_backbone("test_resnet", weights)
    b = create_backbone("test_resnet", resolve_weights("random", seed=3))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, msg=name)


def test_weights_from_a_local_file_are_loaded_and_hashed(tmp_path):
    from safetensors.torch import save_file

    source = create_backbone("test_resnet", resolve_weights(None, seed=7), num_classes=5)
    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    weights = resolve_weights(str(path))
    assert weights.kind == "file" and len(weights.sha256) == 64
    assert weights.label.startswith("test_resnet.safetensors (sha256 ")
    loaded = create_backbone("test_resnet", weights)  # num_classes=0: classifier dropped
    torch.testing.assert_close(loaded.conv1[0].weight, source.conv1[0].weight)
    # a .pth state dict works too
    pth = tmp_path / "test_resnet.pth"
    torch.save(source.state_dict(), pth)
    torch.testing.assert_close(
        create_backbone("test_resnet", resolve_weights(str(pth))).conv1[0].weight,
        source.conv1[0].weight,
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_weights(str(tmp_path / "missing.safetensors"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="safetensors or .pth"):
        resolve_weights(str(tmp_path / "notes.txt"))


def test_last_stage_is_what_fine_tuning_unfreezes():
    model = create_backbone("test_resnet", resolve_weights(None))
    last = {id(p) for p in last_stage_parameters(model)}
    layer4 = {id(p) for p in model.layer4.parameters()}
    assert last == layer4
    set_trainable(model, "last")
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == layer4
    set_trainable(model, "none")
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="trainable"):
        set_trainable(model, "some")


def test_cnn_extractor_matches_the_bare_model_and_reports_progress():
    extractor = create_extractor("test_resnet", image_size=64, num_workers=0, batch_size=4)
    assert extractor.key == "test_resnet:random-0:64px"
    assert extractor.description == "test_resnet (random init, 64 px)"
    images = _images(6)
    calls = []
    features = extractor.extract(images, callback=lambda f, m, **d: calls.append(f))
    assert features.shape == (6, extractor.dim) and features.dtype == np.float32
    assert calls == pytest.approx([4 / 6, 1.0])
    with torch.inference_mode():
        batch = torch.stack([extractor.transform(i) for i in images])
        expected = extractor.model(batch).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    normalised = create_extractor("test_resnet", image_size=64, num_workers=0, l2_normalise=True)
    np.testing.assert_allclose(
        np.linalg.norm(normalised.extract(images[:2]), axis=1), 1.0, rtol=1e-5
    )
    assert normalised.key.endswith(":l2")


def test_dataloader_workers_give_the_same_features(tmp_path):
    paths = []
    for n, image in enumerate(_images(5, seed=1)):
        image.save(tmp_path / f"{n}.png")
        paths.append(tmp_path / f"{n}.png")
    serial = create_extractor("test_resnet", image_size=64, num_workers=0).extract(paths)
    parallel = create_extractor("test_resnet", image_size=64, num_workers=2).extract(paths)
    np.testing.assert_allclose(serial, parallel, rtol=1e-5, atol=1e-6)


class CountingExtractor:
    key, dim = "counting:none", 2

    def __init__(self):
        self.seen = []

    def extract(self, images, callback=None):
        self.seen += list(images)
        return np.array([[len(self.seen), float(i)] for i in images], dtype=np.float32)


def test_cache_skips_done_images_and_redoes_changed_ones(tmp_path):
    cache = FeatureCache(tmp_path)
    extractor = CountingExtractor()
    first, fresh = extract_cached(extractor, [1, 2, 3], ["aa" * 32, "bb" * 32, "cc" * 32], cache)
    assert fresh == 3 and extractor.seen == [1, 2, 3]
    # image 2 changed (new checksum); 1 and 3 come from the cache
    second, fresh = extract_cached(extractor, [1, 2, 3], ["aa" * 32, "dd" * 32, "cc" * 32], cache)
    assert fresh == 1 and extractor.seen == [1, 2, 3, 2]
    np.testing.assert_array_equal(second[[0, 2]], first[[0, 2]])
    # a different extractor key shares nothing
    other = CountingExtractor()
    other.key = "counting:other-weights"
    assert extract_cached(other, [1], ["aa" * 32], cache)[1] == 1
    assert not list(tmp_path.rglob("*.part"))
    with pytest.raises(ValueError, match="not a hex digest"):
        cache.get("k", "../../etc/passwd")


def test_projection_l2_and_pca_are_reusable_for_new_items():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 10)).astype(np.float32)
    projection = FeatureProjection(l2=True, pca_dim=3)
    reduced = projection.fit_transform(features)
    assert reduced.shape == (50, 3) and 0 < projection.explained_variance_ratio < 1
    np.testing.assert_allclose(reduced.mean(axis=0), 0, atol=1e-5)
    again = FeatureProjection.from_arrays(True, projection.arrays())
    np.testing.assert_allclose(again.transform(features[:4]), reduced[:4], rtol=1e-5, atol=1e-6)
    assert FeatureProjection().fit_transform(features).shape == (50, 10)


def test_a_vision_transformer_takes_a_smaller_image_size():
    # ViTs are built for 224 px; the catalogue is often extracted smaller, to save time
    extractor = create_extractor("test_vit", image_size=64, num_workers=0)
    features = extractor.extract(_images(3, size=80))
    assert features.shape == (3, extractor.dim) and np.isfinite(features).all()
    random_init = resolve_weights(None, seed=1)
    a, b = create_backbone("test_vit", random_init), create_backbone("test_vit", random_init)
    torch.testing.assert_close(a.state_dict()["cls_token"], b.state_dict()["cls_token"])


MODERN = {
    # name: (patch size, feature dim, the mean of its own preprocessing)
    "vit_base_patch16_clip_224.openai": (16, 768, (0.48145466, 0.4578275, 0.40821073)),
    "vit_small_patch14_dinov2.lvd142m": (14, 384, (0.485, 0.456, 0.406)),
    "vit_base_patch16_siglip_224.webli": (16, 768, (0.5, 0.5, 0.5)),
}


@pytest.mark.parametrize("name", sorted(MODERN))
def test_modern_backbones_extract_by_timm_name_with_their_own_preprocessing(name):
    """Random init (no download): the named model, its own mean/std, any image size."""
    from recengine.features.backbones import MODERN_BACKBONES

    assert name in MODERN_BACKBONES and name in list_extractors()
    patch, dim, mean = MODERN[name]
    extractor = create_extractor(name, image_size=2 * patch, num_workers=0)
    assert extractor.weights.kind == "random"
    assert tuple(extractor.config["mean"]) == pytest.approx(mean)
    features = extractor.extract(_images(2, size=40))
    assert features.shape == (2, dim) and np.isfinite(features).all()


def test_hub_weights_without_network_fail_with_a_clear_message():
    """tests/conftest.py sets HF_HUB_OFFLINE: the hub is asked, nothing is fetched."""
    with pytest.raises(RuntimeError, match="could not fetch .* name a local weights file"):
        create_extractor("vit_small_patch14_dinov2.lvd142m", weights="hub", image_size=28)
