"""NCF (gmf, mlp, neumf) and the autoencoders (autorec, cdae, multdae, multvae, convae):
one hand-checkable property each, and each learns the two-group toy."""

import numpy as np
import pytest
import torch

from recengine import Interactions, create_model, evaluate
from recengine.models import gradient
from recengine.models.autoencoder import sampled_mask
from recengine.models.autorec import masked_squared_error
from recengine.models.convae import ConvAEModule, scale_ratings, two_channels
from recengine.models.multvae import kl_weight
from recengine.models.ncf import NCFModule, initialise_neumf
from recengine.splits import temporal_leave_last_out

from .toys import clustered


@pytest.fixture(autouse=True)
def one_thread():
    # These models are tiny: on a busy machine, thread hand-offs cost more than the
    # arithmetic (one thread is ~20x faster here). Restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _small(ratings=None):
    """4 users x 6 items; users 0 and 1 share the same items."""
    users = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]
    items = [0, 1, 2, 0, 1, 2, 3, 4, 4, 5]
    return Interactions(
        user_ids=list("abcd"),
        item_ids=[f"i{n}" for n in range(6)],
        users=users,
        items=items,
        ratings=ratings,
    )


def _prepared(name, data, **params):
    """A model with its training state built but not trained (to inspect batches)."""
    model = create_model(name, device="cpu", **params)
    model.rng_, model.device_ = np.random.default_rng(0), torch.device("cpu")
    model.user_ids, model.item_ids = data.user_ids, data.item_ids
    matrix = data.matrix()
    model._seen_indptr, model._seen_indices = matrix.indptr, matrix.indices
    model.shape_ = model._prepare(data)
    return model


# ----------------------------------------------------------------- NCF
def test_ncf_batches_pair_each_positive_with_unseen_negatives():
    data = clustered()
    model = _prepared("gmf", data, negatives=3, batch_size=50)
    seen = data.matrix().toarray() > 0
    batches = list(model._batches(1))
    assert len(batches) == len(model._batches(1)) == 10  # 480 positives, 50 a batch
    users = torch.cat([b[0] for b in batches]).numpy()
    positives = torch.cat([b[1] for b in batches]).numpy()
    negatives = torch.cat([b[2] for b in batches]).numpy()
    assert negatives.shape == (len(data), 3) and len(users) == len(data)
    assert seen[users, positives].all()
    assert not seen[users[:, None], negatives].any()
    # the loss is the log loss with label 1 on the positive, 0 on each negative
    module = model._make_module(model.shape_)
    batch = batches[0]
    logits = module(batch[0][:, None], torch.cat([batch[1][:, None], batch[2]], 1))
    expected = (
        -(
            torch.nn.functional.logsigmoid(logits[:, 0]).sum()
            + torch.nn.functional.logsigmoid(-logits[:, 1:]).sum()
        )
        / logits.numel()
    )
    torch.testing.assert_close(model._loss(module, batch), expected)


def test_initialise_neumf_copies_branches_and_blends_the_prediction_layer():
    torch.manual_seed(0)
    gmf, mlp = NCFModule(5, 7, 4, []), NCFModule(5, 7, 0, [8, 4])
    neumf = NCFModule(5, 7, 4, [8, 4])
    initialise_neumf(neumf, gmf, mlp, alpha=0.5)
    torch.testing.assert_close(neumf.gmf_user.weight, gmf.gmf_user.weight)
    torch.testing.assert_close(neumf.mlp_item.weight, mlp.mlp_item.weight)
    torch.testing.assert_close(neumf.tower[0].weight, mlp.tower[0].weight)
    torch.testing.assert_close(neumf.out.weight[:, :4], 0.5 * gmf.out.weight)
    torch.testing.assert_close(neumf.out.weight[:, 4:], 0.5 * mlp.out.weight)
    # so the fresh NeuMF predicts the average of the two pretrained logits
    users, items = torch.tensor([0, 1, 4]), torch.tensor([6, 2, 0])
    with torch.no_grad():
        torch.testing.assert_close(
            neumf(users, items), 0.5 * (gmf(users, items) + mlp(users, items))
        )


def test_neumf_pretrains_gmf_and_mlp_then_starts_from_them(monkeypatch):
    runs = []
    real = gradient.train_loop

    def recording(module, **kwargs):
        start = {k: v.clone() for k, v in module.state_dict().items()}
        result = real(module, **kwargs)
        runs.append((start, {k: v.clone() for k, v in module.state_dict().items()}))
        return result

    monkeypatch.setattr(gradient, "train_loop", recording)
    params = {"factors": 4, "layers": [8, 4], "epochs": 2, "batch_size": 64, "device": "cpu"}
    progress = []
    create_model("neumf", **params).fit(clustered(), callback=lambda f, m, **d: progress.append(m))
    assert len(runs) == 3  # GMF, MLP, then NeuMF itself
    (_, gmf), (_, mlp), (neumf, _) = runs
    assert set(gmf) == {"gmf_user.weight", "gmf_item.weight", "out.weight", "out.bias"}
    for name, value in [*gmf.items(), *mlp.items()]:
        if not name.startswith("out."):
            torch.testing.assert_close(neumf[name], value)
    blended = torch.cat([0.5 * gmf["out.weight"], 0.5 * mlp["out.weight"]], dim=1)
    torch.testing.assert_close(neumf["out.weight"], blended)
    torch.testing.assert_close(neumf["out.bias"], 0.5 * (gmf["out.bias"] + mlp["out.bias"]))
    assert any(m.startswith("gmf pretraining") for m in progress)
    assert any(m.startswith("mlp pretraining") for m in progress)

    runs.clear()
    create_model("neumf", pretrain=False, **params).fit(clustered())
    assert len(runs) == 1


# ----------------------------------------------------------------- autoencoders
def test_mult_vae_kl_weight_follows_the_annealing_schedule():
    assert kl_weight(0, 0.2, 200000) == 0.0
    assert kl_weight(20000, 0.2, 200000) == pytest.approx(0.1)
    assert kl_weight(40000, 0.2, 200000) == pytest.approx(0.2)
    assert kl_weight(10**6, 0.2, 200000) == pytest.approx(0.2)  # stops at the cap
    assert kl_weight(5, 0.3, 0) == 0.3

    model = create_model(
        "multvae", dims=[8, 4], epochs=4, batch_size=20, anneal_cap=0.5, total_anneal_steps=4
    )
    betas = _recorded_betas(model)
    model.fit(clustered())  # 60 users, 3 steps an epoch
    assert betas == pytest.approx([0, 0.25, 0.5] + [0.5] * 9)
    assert model.updates_ == 12


def _recorded_betas(model):
    betas, loss = [], model._loss

    def recording(module, batch):
        value = loss(module, batch)
        betas.append(model.beta_)
        return value

    model._loss = recording
    return betas


def test_mult_vae_reaches_its_kl_cap_within_a_default_fit_on_a_small_catalogue():
    """The paper's 200000-step ramp on a 60-user toy (one batch an epoch, 200 updates)
    would leave beta at 0.001: by default the cap comes at 85% of the planned updates."""
    model = create_model("multvae", device="cpu")
    assert model.hyperparameters["total_anneal_steps"] is None
    betas = _recorded_betas(model)
    model.fit(clustered())  # no validation: the 200 default epochs all run
    assert model.planned_updates_ == 200 == len(betas) == model.updates_
    cap = model.hyperparameters["anneal_cap"]
    assert cap == 0.2 and betas[-1] == pytest.approx(cap)
    at_cap = next(n for n, beta in enumerate(betas) if beta >= cap - 1e-9)
    assert at_cap in (170, 171)  # 0.85 * 200 updates, give or take float rounding
    assert betas[85] == pytest.approx(0.1)  # a straight ramp to there
    assert np.all(np.diff(betas) >= 0)

    # the paper's absolute count stays available when asked for by name
    model = create_model("multvae", dims=[8, 4], epochs=3, total_anneal_steps=200000)
    betas = _recorded_betas(model)
    model.fit(clustered())
    assert betas == pytest.approx([0, 1 / 200000, 2 / 200000])


@pytest.mark.parametrize(
    "name, params",
    [("multdae", {"dims": [8]}), ("multvae", {"dims": [16, 4]}), ("convae", {"hidden": 8})],
)
def test_item_vector_models_score_a_profile_like_the_user_it_copies(name, params):
    # the input is the item vector alone: a training user's own items, given as a new
    # profile, score exactly as that user does, no retraining needed
    model = create_model(name, epochs=3, device="cpu", **params).fit(clustered())
    users = np.array([0, 1, 7])
    scores = model.score(users)
    np.testing.assert_array_equal(model.score(users), scores)  # no sampling or dropout
    np.testing.assert_allclose(
        model.score_profiles(model.seen_profiles(users)), scores, rtol=1e-5, atol=1e-6
    )


def test_cdae_uses_the_user_embedding():
    model = create_model("cdae", hidden=8, epochs=20, lr=0.05, device="cpu").fit(_small())
    scores = model.score(np.array([0, 1]))
    # users 0 and 1 have the same items: only V_u tells them apart
    assert np.abs(scores[0] - scores[1]).max() > 1e-4
    with torch.no_grad():
        model.module_.user.weight.zero_()
    same = model.score(np.array([0, 1]))
    np.testing.assert_allclose(same[0], same[1], rtol=1e-6)
    with pytest.raises(NotImplementedError, match="cdae"):
        model.score_profiles([np.array([0])])


def test_convae_two_channels_and_their_mixing():
    np.testing.assert_allclose(scale_ratings(np.array([1, 3, 5]), 1, 5), [0.1, 0.55, 1.0])
    seen = np.array([[1, 0, 1]], dtype=np.float32)
    without = two_channels(seen, None)
    assert without.shape == (1, 2, 3) and (without[:, 0] == without[:, 1]).all()
    with_ratings = two_channels(seen, np.array([[0.4, 0, 1]]))
    np.testing.assert_allclose(with_ratings[0], [[0.4, 0, 1], [1, 0, 1]])
    module = ConvAEModule(3, 4, 0.0)
    with torch.no_grad():
        module.mix.weight.copy_(torch.tensor([[[2.0], [-1.0]]]))
        mixed = module.mixed(torch.as_tensor(with_ratings))
    torch.testing.assert_close(mixed, torch.tensor([[2 * 0.4 - 1, 0.0, 2 * 1 - 1]]))

    # fitted on ratings: the rating channel holds the scaled ratings, 0 where none
    ratings = [5, 1, 3, 1, 5, 3, 2, 4, 4, 4]
    model = create_model("convae", hidden=8, epochs=5, lr=0.05, device="cpu")
    model.fit(_small(ratings=ratings))
    vectors = model._vectors(np.array([0, 1]))
    np.testing.assert_allclose(vectors[0, 0], [1.0, 0.1, 0.55, 0, 0, 0])
    np.testing.assert_allclose(vectors[1, 0], [0.1, 1.0, 0.55, 0, 0, 0])
    np.testing.assert_array_equal(vectors[:, 1], [[1, 1, 1, 0, 0, 0]] * 2)
    # same items, different ratings: different scores
    scores = model.score(np.array([0, 1]))
    assert np.abs(scores[0] - scores[1]).max() > 1e-4
    # a profile (no ratings) gets the mean scaled rating on its items
    profile = model._profile_vectors([np.array([0, 2])])
    np.testing.assert_allclose(profile[0, 0, [0, 2]], model.shape_["mean"])
    assert model.shape_["mean"] == pytest.approx(np.mean(scale_ratings(ratings, 1, 5)))


def test_autorec_loss_covers_only_observed_entries():
    ratings = [5, 1, 3, 1, 5, 3, 2, 4, 4, 4]
    data = _small(ratings=ratings)
    model = _prepared("autorec", data, hidden=3, reg=0.5, batch_size=6)
    values, mask = next(iter(model._batches(1)))
    # items as rows (in the epoch's shuffled order), one column per user
    order = np.random.default_rng(0).permutation(6)
    np.testing.assert_array_equal(values.numpy(), data.rating_matrix().T.toarray()[order])
    np.testing.assert_array_equal(mask.numpy(), data.matrix().T.toarray()[order])
    module = model._make_module(model.shape_)
    predicted = module(values)
    # squared error on observed entries per item, plus reg / 2 * (|V|^2 + |W|^2) per item
    error = (((predicted - values) * mask) ** 2).sum() / 6
    penalty = 0.25 * (module.encoder.weight.pow(2).sum() + module.decoder.weight.pow(2).sum()) / 6
    torch.testing.assert_close(model._loss(module, (values, mask)), error + penalty)
    # what the network says about an unobserved entry does not move the loss
    changed = predicted.detach().clone()
    changed[mask == 0] += 100.0
    torch.testing.assert_close(
        masked_squared_error(changed, values, mask),
        masked_squared_error(predicted.detach(), values, mask),
    )


def test_autorec_on_implicit_data_adds_sampled_unobserved_entries():
    model = _prepared("autorec", clustered(), hidden=3, negatives=1, batch_size=40)
    values, observed = next(iter(model._batches(1)))
    torch.manual_seed(1)
    mask = sampled_mask(observed, 1.0)
    assert (mask[observed > 0] == 1).all()
    extra = float(mask.sum() - observed.sum()) / float(observed.sum())
    assert 0.8 < extra < 1.2  # about one unobserved entry per observed one, target 0
    module = model._make_module(model.shape_)
    penalty = module.encoder.weight.pow(2).sum() + module.decoder.weight.pow(2).sum()
    expected = masked_squared_error(module(values), values, mask) + 0.5 * penalty / 40
    torch.manual_seed(1)  # the same draw inside the loss
    torch.testing.assert_close(model._loss(module, (values, observed)), expected)
    # the model itself only knows its training users
    fitted = create_model("autorec", hidden=3, epochs=1).fit(clustered())
    with pytest.raises(NotImplementedError, match="autorec"):
        fitted.score_profiles([np.array([0])])


# GMF and NeuMF train their full epochs: early stopping on 60 users' validation stops
# some seeds at epoch 1-4 (dense or sparse updates alike); with the full run all ten seeds
# learn the groups (checked for seeds 0-9).
LEARNS = [
    ("gmf", {"factors": 8, "epochs": 30, "batch_size": 64, "lr": 0.01, "patience": 100}),
    ("mlp", {"layers": [64, 32, 16], "epochs": 40, "batch_size": 32, "lr": 0.01}),
    (
        "neumf",
        {
            "factors": 8,
            "layers": [16, 8],
            "epochs": 20,
            "batch_size": 64,
            "lr": 0.01,
            "patience": 100,
        },
    ),
    ("autorec", {"hidden": 16, "epochs": 100, "batch_size": 8, "lr": 0.01, "reg": 0.1}),
    ("cdae", {"hidden": 16, "epochs": 100, "batch_size": 16, "lr": 0.01}),
    ("multdae", {"dims": [16], "epochs": 100, "batch_size": 16, "lr": 0.01}),
    (
        "multvae",
        {"dims": [32, 8], "epochs": 100, "batch_size": 16, "lr": 0.01, "total_anneal_steps": 200},
    ),
    ("convae", {"hidden": 16, "epochs": 100, "batch_size": 16, "lr": 0.01}),
]


@pytest.mark.parametrize("name, params", LEARNS)
def test_learns_the_groups_and_beats_random(name, params):
    split = temporal_leave_last_out(clustered())
    model = create_model(name, device="cpu", **params).fit(split.train, valid=split.valid)
    learned = evaluate(model, split.train, split.test, ks=(10,), metrics=("HR",))
    chance = evaluate(
        create_model("random").fit(split.train), split.train, split.test, ks=(10,), metrics=("HR",)
    )
    # Lists stay in the user's own half of the catalogue; within it a model can only
    # guess (10 of about 14 unseen items), so HR@10 tops out near 0.7 there.
    users = np.arange(split.train.n_users)
    top, _ = model.recommend(users, k=10)
    own_half = (top // 20) == (users[:, None] % 2)
    assert own_half.mean() >= 0.9
    assert learned.metrics["HR@10"] >= chance.metrics["HR@10"] + 0.2
    losses = [epoch["loss"] for epoch in model.history_]
    assert losses[-1] < losses[0]
