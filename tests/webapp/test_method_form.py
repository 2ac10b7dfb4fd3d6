"""The staff training form: grouped, explained, only the fields that apply, and the same
rules checked on the server as the page's script applies."""

import pytest

from webapp.jobs.form_layout import GROUPS, cnn_extractors
from webapp.jobs.forms import MethodForm


def as_posted(method: str, kind: str = "train", drop=(), **changes) -> dict:
    """What a browser posts for the form at its defaults: a ticked box as "on", an unticked
    one left out, like a disabled field (``drop``)."""
    form = MethodForm(kind=kind, method=method)
    data = {}
    for name in form.fields:
        if name in changes:
            data[name] = changes[name]
            continue
        value = form[name].value()
        if name in drop or value is False:
            continue
        data[name] = "on" if value is True else value  # value(): as the widget shows it
    return {k: ("" if v is None else v) for k, v in data.items()}


def test_fields_come_in_groups_each_with_help_and_its_default(db):
    form = MethodForm(kind="train", method="curatornet")
    groups = form.fieldsets()
    titles = [group.title for group in groups]
    assert titles == [title for title, _ in GROUPS if title in titles]  # the layout's order
    assert titles[0] == "Features and backbone" and len(titles) >= 4
    names = [row.field.name for group in groups for row in group.rows]
    assert sorted(names) == sorted(form.fields)  # every field once
    by_name = {row.field.name: (group.title, row) for group in groups for row in group.rows}
    assert by_name["lr"][0] == "Training loop" and by_name["patience"][0].startswith("Valid")
    assert by_name["sampling"][0] == "Sampling"
    for name, field in form.fields.items():
        assert "Default: " in field.help_text, name
    assert form.fields["lr"].help_text == "Learning rate of the optimiser. Default: 0.001."
    assert form.fields["fine_tune"].help_text.endswith("Default: off.")


def test_the_backbone_and_the_feature_cnns_weights_apply_only_where_they_are_used(db):
    form = MethodForm(kind="train", method="curatornet")
    with_weights, pretrained = cnn_extractors()
    for name in ("backbone", "weights", "image_size"):
        assert form.shown_when[name].field == "fine_tune"
        assert form.shown_when[name].values == ("on",)
    assert form.shown_when["features_weights"].field == "features"
    assert "handcrafted" not in form.shown_when["features_weights"].values
    assert set(form.shown_when["features_weights"].values) == set(with_weights)
    assert set(form.shown_when["features_image_size"].values) == set(with_weights + pretrained)
    rows = {row.field.name: row for group in form.fieldsets() for row in group.rows}
    assert rows["backbone"].controller_id == "id_fine_tune"
    assert "lr" not in form.shown_when and rows["lr"].controller_id == ""
    # VisRank has no fine-tuning; DVBPR always reads the images, so its backbone shows.
    assert "backbone" in MethodForm(kind="train", method="dvbpr").fields
    assert "backbone" not in MethodForm(kind="train", method="dvbpr").shown_when


def test_fields_that_do_not_apply_and_are_not_posted_take_their_defaults(db):
    hidden = ("backbone", "weights", "image_size", "features_weights", "features_image_size")
    hidden += ("guidelines", "clusters", "basket_seconds", "hard_negatives")
    form = MethodForm(
        as_posted("curatornet", drop=hidden, lr="0.01"), kind="train", method="curatornet"
    )
    assert form.is_valid(), form.errors
    params = form.params()
    assert params["lr"] == 0.01
    assert params["backbone"] == "resnet50" and params["image_size"] == 96
    assert params["weights"] is None and params["features_weights"] == ""
    assert params["clusters"] == 20


def test_a_value_typed_into_a_field_that_does_not_apply_is_refused_by_name(db):
    data = as_posted("curatornet", image_size="128", clusters="5")
    form = MethodForm(data, kind="train", method="curatornet")
    assert not form.is_valid()
    assert form.errors["image_size"] == [
        "image size is used only with fine-tuning; leave it at its default (96)."
    ]
    assert "only with guided sampling" in form.errors["clusters"][0]
    # the same values are taken once the fields apply
    data.update(fine_tune="on", sampling="guided")
    form = MethodForm(data, kind="train", method="curatornet")
    assert form.is_valid(), form.errors
    assert form.params()["image_size"] == 128 and form.params()["clusters"] == 5


def test_a_field_that_applies_is_still_validated(db):
    data = as_posted("curatornet", drop=("image_size",), fine_tune="on")
    form = MethodForm(data, kind="train", method="curatornet")
    assert not form.is_valid() and "image_size" in form.errors


@pytest.mark.parametrize(
    "typed, error",
    [("[256, 128]", None), ("256", "Enter a list in JSON"), ("[256,", "Enter a valid JSON")],
)
def test_list_hyperparameters_are_json_of_the_defaults_type(db, typed, error):
    shown = str(MethodForm(kind="train", method="deepfm")["hidden"])
    assert 'value="[128, 64]"' in shown  # JSON, not a Python repr
    form = MethodForm(as_posted("deepfm", hidden=typed), kind="train", method="deepfm")
    if error is None:
        assert form.is_valid(), form.errors
        assert form.params()["hidden"] == [256, 128]
    else:
        assert not form.is_valid() and error in form.errors["hidden"][0]


def test_a_nested_dict_default_is_posted_back_as_itself(db):
    form = MethodForm(as_posted("hybrid_weighted"), kind="train", method="hybrid_weighted")
    assert form.is_valid(), form.errors
    assert form.params()["collaborative_params"] == {}
