import numpy as np
import pytest
import torch

from recengine import create_model, evaluate
from recengine.training import make_optimizer, train_loop

from .toys import clustered


def _regression_problem():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    return x, y


def test_loss_falls_and_progress_reports_every_epoch():
    x, y = _regression_problem()
    module = torch.nn.Linear(4, 1)
    calls = []
    result = train_loop(
        module,
        batches=lambda epoch: [(x[i : i + 64], y[i : i + 64]) for i in range(0, 256, 64)],
        loss_fn=lambda m, b: (m(b[0]).squeeze(1) - b[1]).pow(2).mean(),
        epochs=30,
        lr=0.05,
        callback=lambda fraction, message, **details: calls.append(details),
    )
    losses = [r.loss for r in result.history]
    assert losses[-1] < 0.01 * losses[0]
    assert [c["epoch"] for c in calls] == list(range(1, 31))
    assert calls[-1]["seconds_left"] == 0 and "loss" in calls[0]
    assert result.best_epoch == 30 and not result.stopped_early


def test_early_stopping_restores_the_best_epoch():
    x, y = _regression_problem()
    module = torch.nn.Linear(4, 1)
    # a validation metric that peaks at epoch 3, then only falls
    scores = iter([0.1, 0.5, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    weights_at = {}

    def validate():
        weights_at[len(weights_at) + 1] = module.weight.detach().clone()
        return next(scores)

    result = train_loop(
        module,
        batches=lambda epoch: [(x, y)],
        loss_fn=lambda m, b: (m(b[0]).squeeze(1) - b[1]).pow(2).mean(),
        epochs=8,
        lr=0.05,
        validate=validate,
        patience=2,
    )
    assert result.best_epoch == 3 and result.best_metric == 0.9
    assert result.stopped_early and len(result.history) == 5
    torch.testing.assert_close(module.weight, weights_at[3])


def test_nonfinite_loss_is_a_clear_error_and_callbacks_can_cancel():
    module = torch.nn.Linear(1, 1)
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        train_loop(
            module,
            batches=lambda epoch: [None],
            loss_fn=lambda m, b: m.weight.sum() * float("inf"),
            epochs=1,
            lr=0.1,
        )

    class Cancelled(Exception):
        pass

    def cancel(fraction, message, **details):
        raise Cancelled

    with pytest.raises(Cancelled):
        train_loop(
            module,
            batches=lambda epoch: [None],
            loss_fn=lambda m, b: m.weight.pow(2).sum(),
            epochs=3,
            lr=0.1,
            callback=cancel,
        )
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs", module.parameters(), lr=0.1)


@pytest.mark.parametrize(
    "name, params",
    [
        ("bpr", {"epochs": 40, "batch_size": 64, "lr": 0.01, "factors": 16, "reg": 1e-5}),
        (
            "bpr",
            {
                "epochs": 40,
                "batch_size": 64,
                "lr": 0.01,
                "factors": 16,
                "reg": 1e-5,
                "loss": "hinge",
            },
        ),
        ("wmf", {"factors": 4, "iterations": 10, "reg": 1.0, "alpha": 10.0}),
        ("ease", {"l2": 10.0}),
        ("itemknn", {"neighbours": 10}),
        ("userknn", {"neighbours": 10}),
        ("slim", {"alpha": 1e-3}),
    ],
)
def test_models_learn_the_groups_and_beat_random(name, params):
    from recengine.splits import temporal_leave_last_out

    split = temporal_leave_last_out(clustered())
    model = create_model(name, **params).fit(split.train, valid=split.valid)
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
    if name == "bpr":
        losses = [epoch["loss"] for epoch in model.history_]
        assert losses[-1] < losses[0]


def test_checkpoint_each_epoch_and_resume_after_a_crash(tmp_path):
    x, y = _regression_problem()
    path = tmp_path / "ckpt.pt"

    def run(epochs, crash_at=None):
        torch.manual_seed(0)
        module = torch.nn.Linear(4, 1)

        def batches(epoch):
            if epoch == crash_at:
                raise KeyboardInterrupt("worker killed")
            return [(x, y)]

        result = train_loop(
            module,
            batches=batches,
            loss_fn=lambda m, b: (m(b[0]).squeeze(1) - b[1]).pow(2).mean(),
            epochs=epochs,
            lr=0.05,
            checkpoint=path,
        )
        return module, result

    with pytest.raises(KeyboardInterrupt):
        run(6, crash_at=4)
    assert path.exists() and not (tmp_path / "ckpt.pt.part").exists()
    resumed_module, resumed = run(6)
    assert [r.epoch for r in resumed.history] == [1, 2, 3, 4, 5, 6]
    path.unlink()
    straight_module, straight = run(6)
    torch.testing.assert_close(resumed_module.weight, straight_module.weight)
    assert [r.loss for r in resumed.history] == pytest.approx([r.loss for r in straight.history])


def test_a_small_dataset_gets_enough_steps_per_epoch_with_the_default_batch():
    from recengine.models.gradient import MIN_STEPS_PER_EPOCH, batch_size_for

    assert batch_size_for(4096, 199_435) == 4096  # citeulike keeps the tuned size
    assert batch_size_for(4096, 420) == 21 and batch_size_for(4096, 5) == 1
    data = clustered()  # 480 pairs: the default 4096 would be one step an epoch
    model = create_model("bpr", epochs=20, factors=8).fit(data)  # 20 steps, not 1
    assert model.hyperparameters["batch_size"] == 4096 and MIN_STEPS_PER_EPOCH == 20
    top, _ = model.recommend(np.arange(data.n_users), k=10)
    assert ((top // 20) == (np.arange(data.n_users)[:, None] % 2)).mean() >= 0.9


@pytest.mark.parametrize("name", ["bpr", "multvae"])
def test_a_resumed_fit_draws_what_an_uninterrupted_one_draws(name, tmp_path):
    """Negatives (the model's generator) and dropout masks (torch's) come back with the
    checkpoint, so a fit killed after epoch 3 ends exactly where a straight one does."""
    train = clustered(seed=3)
    params = {"epochs": 6, "patience": 100, "seed": 5}

    def fit(checkpoint, crash_after=None):
        model = create_model(name, **params)
        model.checkpoint_path = str(checkpoint)

        def callback(fraction, message, **info):
            if crash_after and info.get("epoch") == crash_after + 1:
                raise KeyboardInterrupt("worker killed")

        model.fit(train, callback=callback)
        return model

    straight = fit(tmp_path / "straight.pt")
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "resumed.pt", crash_after=3)
    saved = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert saved["epoch"] == 3 and saved["random"]["rng"]
    resumed = fit(tmp_path / "resumed.pt")
    assert [e["loss"] for e in resumed.history_] == [e["loss"] for e in straight.history_]
    users = np.arange(train.n_users)
    np.testing.assert_array_equal(resumed.score(users), straight.score(users))


def test_a_fit_killed_after_it_stopped_early_does_not_train_on_when_resumed(tmp_path):
    x, y = _regression_problem()
    path = tmp_path / "ckpt.pt"
    scores = iter([0.5, 0.4, 0.3, 0.2, 0.1, 0.0] * 2)

    def run():
        torch.manual_seed(0)
        module = torch.nn.Linear(4, 1)
        result = train_loop(
            module,
            batches=lambda epoch: [(x, y)],
            loss_fn=lambda m, b: (m(b[0]).squeeze(1) - b[1]).pow(2).mean(),
            epochs=6,
            lr=0.05,
            validate=lambda: next(scores),
            patience=2,
            checkpoint=path,
        )
        return module, result

    first_module, first = run()  # stops after epoch 3: two validations without a gain
    assert first.stopped_early and [r.epoch for r in first.history] == [1, 2, 3]
    # the worker dies after the loop (e.g. while testing); the next attempt resumes
    module, resumed = run()
    assert resumed.stopped_early and [r.epoch for r in resumed.history] == [1, 2, 3]
    assert resumed.best_epoch == first.best_epoch == 1
    torch.testing.assert_close(module.weight, first_module.weight)
