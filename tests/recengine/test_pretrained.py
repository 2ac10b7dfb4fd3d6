"""The installed EfficientNet-Lite0: converted once to timm's naming, it must recognise
real photos (scikit-image's bundled samples, no network), and a damaged file must be
refused with a message that says what is wrong."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from recengine import create_extractor, list_extractors
from recengine.features import extractor_label, pretrained_extractors
from recengine.features import pretrained as pretrained_module
from recengine.features.backbones import create_backbone, eval_transform, resolve_weights
from recengine.features.pretrained import (
    INSTALLED,
    WeightsError,
    installed_weights,
    weights_install,
)

NAME = "efficientnet_lite0_imagenet"
ESPRESSO, MISSILE = 967, 657
CATS = (281, 282, 285)  # tabby, tiger cat, Egyptian cat


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    return weights_install(NAME, tmp_path_factory.mktemp("weights"))


def _photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def _probabilities(model, transform, name: str) -> torch.Tensor:
    with torch.inference_mode():
        return model(transform(_photo(name))[None]).softmax(-1)[0]


def test_the_registry_offers_it_as_a_pretrained_choice_beside_random_init():
    assert NAME in list_extractors() and NAME in pretrained_extractors()
    assert extractor_label(NAME) == "efficientnet_lite0 (ImageNet)"
    assert "tf_efficientnet_lite0" in list_extractors()  # the same network, random init
    assert "tf_efficientnet_lite0" not in pretrained_extractors()


def test_the_converted_network_recognises_real_photos(converted):
    weights = resolve_weights(str(converted))
    model = create_backbone("tf_efficientnet_lite0", weights, num_classes=1000).eval()
    transform = eval_transform(model)  # timm's own: 224 px, bicubic, mean = std = 0.5
    coffee = _probabilities(model, transform, "coffee")
    assert int(coffee.argmax()) == ESPRESSO and float(coffee[ESPRESSO]) > 0.5
    chelsea = _probabilities(model, transform, "chelsea")
    assert int(chelsea.argmax()) in CATS and float(chelsea[list(CATS)].sum()) > 0.5
    rocket = _probabilities(model, transform, "rocket")
    assert int(rocket.argmax()) == MISSILE
    # a random-init network of the same shape does not (what the photos test is worth)
    random_model = create_backbone("tf_efficientnet_lite0", resolve_weights(None), 1000).eval()
    assert float(_probabilities(random_model, transform, "coffee")[ESPRESSO]) < 0.05


def test_the_extractor_loads_the_converted_file_and_says_so(converted):
    extractor = create_extractor(NAME, weights_dir=converted.parent, num_workers=0)
    assert extractor.weights.kind == "file" and extractor.weights.file == str(converted)
    assert extractor.description.startswith("efficientnet_lite0 (ImageNet) (")
    features = extractor.extract([_photo("coffee"), _photo("chelsea"), _photo("astronaut")])
    assert features.shape == (3, 1280) and np.isfinite(features).all()
    assert extractor.dim == 1280
    with pytest.raises(ValueError, match="uses its installed weights"):
        create_extractor(NAME, weights_dir=converted.parent, weights="random")


def test_a_second_install_keeps_the_good_file(converted):
    before = converted.stat().st_mtime_ns
    assert weights_install(NAME, converted.parent) == converted
    assert converted.stat().st_mtime_ns == before


def test_a_corrupted_file_is_refused_with_a_clear_message(converted, tmp_path):
    damaged = tmp_path / converted.name
    data = bytearray(converted.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (tmp_path / (converted.name + ".sha256")).write_text(
        (converted.parent / (converted.name + ".sha256")).read_text()
    )
    with pytest.raises(WeightsError, match=r"is corrupted: its sha256 is .* delete it and run"):
        installed_weights(NAME, tmp_path)
    with pytest.raises(WeightsError, match="corrupted"):  # nor can the extractor use it
        create_extractor(NAME, weights_dir=tmp_path)
    with pytest.raises(WeightsError, match="corrupted"):  # nor is it silently re-converted
        weights_install(NAME, tmp_path)


def test_a_file_with_a_wrong_tensor_shape_is_refused_even_with_its_own_checksum(tmp_path):
    from safetensors.torch import load_file, save_file

    from recengine.features.backbones import file_sha256

    good = weights_install(NAME, tmp_path / "good")
    tensors = load_file(str(good))
    tensors["conv_stem.weight"] = torch.zeros(16, 3, 3, 3)
    bad = tmp_path / good.name
    save_file(tensors, str(bad))
    (tmp_path / (good.name + ".sha256")).write_text(f"{file_sha256(bad)}  {good.name}\n")
    with pytest.raises(WeightsError, match=r"conv_stem.weight has shape \(16, 3, 3, 3\)"):
        installed_weights(NAME, tmp_path)


def test_a_file_without_its_checksum_is_refused(converted, tmp_path):
    (tmp_path / converted.name).write_bytes(converted.read_bytes())
    with pytest.raises(WeightsError, match="no recorded checksum"):
        installed_weights(NAME, tmp_path)


def test_a_source_that_is_not_the_published_file_is_refused(tmp_path, monkeypatch):
    wrong = dataclasses.replace(INSTALLED[NAME], source_sha256="0" * 64)
    monkeypatch.setitem(pretrained_module.INSTALLED, NAME, wrong)
    with pytest.raises(WeightsError, match="reinstall the package"):
        weights_install(NAME, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_tensors_that_do_not_match_the_architecture_are_refused():
    from recengine.features.pretrained import convert_state_dict

    with pytest.raises(WeightsError, match="has 1 tensors"):
        convert_state_dict({"w": torch.zeros(1)}, "tf_efficientnet_lite0")
