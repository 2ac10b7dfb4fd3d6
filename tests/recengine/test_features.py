import numpy as np
import pytest
from PIL import Image

from recengine import create_extractor, list_extractors
from recengine.features.handcrafted import colour_histogram, lbp_codes, lbp_histogram


def test_lbp_constant_image_is_one_uniform_pattern():
    histogram = lbp_histogram(np.full((6, 7), 100, dtype=np.uint8))
    # every neighbour >= centre -> code 255, the last of the 58 uniform codes (bin 57)
    assert histogram.shape == (59,)
    assert histogram[57] == 1.0 and histogram.sum() == pytest.approx(1.0)


def test_lbp_known_patches():
    # neighbours clockwise from top-left: 9 9 9 0 0 0 0 0 -> bits 0, 1, 2 -> code 7
    patch = np.array([[9, 9, 9], [0, 5, 0], [0, 0, 0]])
    assert lbp_codes(patch).tolist() == [[7]]
    # uniform codes below 7 are 0, 1, 2, 3, 4, 6 (5 = 00000101 has 4 transitions) -> bin 6
    assert lbp_histogram(patch)[6] == 1.0
    # TL 6>=5, T 1, TR 7>=5, R 9>=5, BR 0, B 5>=5, BL 3, L 2 -> bits 0, 2, 3, 5 -> 45,
    # bit string 1,0,1,1,0,1,0,0 has 6 circular transitions -> non-uniform bin 58
    patch = np.array([[6, 1, 7], [2, 5, 9], [3, 5, 0]])
    assert lbp_codes(patch).tolist() == [[45]]
    assert lbp_histogram(patch)[58] == 1.0
    assert lbp_histogram(np.zeros((2, 2))).sum() == 0.0  # no interior pixel


def test_colour_histogram_pure_red():
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    histogram = colour_histogram(red)
    # H = 0 -> bin 0, S = 255 -> bin 3, V = 255 -> bin 3 -> (0 * 4 + 3) * 4 + 3 = 15
    assert histogram.shape == (128,) and histogram[15] == 1.0 and histogram.sum() == 1.0


def test_handcrafted_extractor(tmp_path):
    assert "handcrafted" in list_extractors()
    extractor = create_extractor("handcrafted", image_size=32)
    assert extractor.dim == 128 + 59 and extractor.weights_id == "none"
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (50, 40, 3), dtype=np.uint8))
    blue = Image.new("RGB", (20, 30), (10, 20, 200))
    blue.save(tmp_path / "blue.png")
    calls = []
    features = extractor.extract(
        [noise, blue, str(tmp_path / "blue.png")], callback=lambda f, m, **details: calls.append(f)
    )
    assert features.shape == (3, extractor.dim) and features.dtype == np.float32
    # each block is L2-normalised
    np.testing.assert_allclose(np.linalg.norm(features[:, :128], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(features[:, 128:], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(features[1], features[2], atol=1e-6)  # PIL image == its file
    assert calls[-1] == 1.0
    with pytest.raises(ValueError, match="available: .*handcrafted"):
        create_extractor("nope")


def test_colour_and_lbp_extractors_are_the_handcrafted_blocks():
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    colour = create_extractor("colour", image_size=32)
    lbp = create_extractor("lbp", image_size=32)
    assert (colour.dim, lbp.dim) == (128, 59)
    c, t = colour.extract([image])[0], lbp.extract([image])[0]
    assert c.sum() == pytest.approx(1.0) and t.sum() == pytest.approx(1.0)
    both = create_extractor("handcrafted", image_size=32).extract([image])[0]
    np.testing.assert_allclose(both[:128], np.sqrt(c) / np.linalg.norm(np.sqrt(c)), rtol=1e-5)
    assert colour.key == "colour:none:32px" != lbp.key


def test_attractiveness_hand_computed():
    from recengine.features.attractiveness import METRICS, attractiveness

    grey = np.full((8, 8, 3), 128, dtype=np.uint8)
    values = dict(zip(METRICS, attractiveness(grey), strict=True))
    assert values["brightness"] == pytest.approx(128 / 255, rel=1e-5)
    for flat in (
        "saturation",
        "sharpness",
        "colourfulness",
        "naturalness",
        "contrast",
        "rgb_contrast",
    ):
        assert values[flat] == pytest.approx(0.0, abs=1e-6), flat

    # half black, half white: luma std 0.5, RGB distance from the mean grey sqrt(3) / 2
    split = np.zeros((4, 4, 3), dtype=np.uint8)
    split[:, 2:] = 255
    values = dict(zip(METRICS, attractiveness(split), strict=True))
    assert values["contrast"] == pytest.approx(0.5, rel=1e-5)
    assert values["rgb_contrast"] == pytest.approx(np.sqrt(3) / 2, rel=1e-5)
    assert values["sharpness"] > 0

    # pure red: rg = 1, yb = 0.5 everywhere -> colourfulness 0.3 * hypot(1, 0.5)
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    values = dict(zip(METRICS, attractiveness(red), strict=True))
    assert values["colourfulness"] == pytest.approx(0.3 * np.hypot(1, 0.5), rel=1e-5)
    assert values["saturation"] == pytest.approx(1.0)

    # a sky-blue patch at its natural saturation (0.43) is fully natural
    import colorsys

    sky = np.array(colorsys.hls_to_rgb(220 / 360, 0.5, 0.43)) * 255
    patch = np.broadcast_to(np.round(sky).astype(np.uint8), (4, 4, 3))
    values = dict(zip(METRICS, attractiveness(patch), strict=True))
    assert values["naturalness"] == pytest.approx(1.0, abs=0.01)

    extractor = create_extractor("attractiveness", image_size=16)
    assert extractor.dim == 7 and extractor.extract([Image.fromarray(red)]).shape == (1, 7)
