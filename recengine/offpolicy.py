"""Off-policy estimates of a ranker's value from logged recommendation lists.

The logs are item-level ("independent IPS" in Open Bandit Pipeline's slate terms): each
impression i showed a set of works, and for each shown work a we know the logging policy's
inclusion propensity p0(i, a) (the probability that a was in the list at all: 1.0 for a
deterministic ranker, ``online.inclusion_propensity`` for epsilon-greedy) and a reward
r(i, a) (1 if clicked or bought from that impression, else 0).

A target policy is deterministic: for impression i it would show its own top-k list T_i
(computing T_i is the ranker's business, not this module's). Its value is the expected total
reward per impression, ``V = E_i [ sum over a in T_i of E[r(i, a)] ]``.

Assumption, without which none of this holds: a work's reward depends on the visitor and
the work only, not on its position in the list nor on the other works shown. Then each work
of T_i is its own little bandit, and weighting the shown rows by 1[a in T_i] / p0(i, a) is
unbiased. Position bias breaks it: works at the top get clicked more, so a target that moves
works up or down is misjudged (a position-based model would be the next step).

The other caveat is support: a target work the logging policy could never show (p0 = 0) is
never seen in the logs, and IPS silently counts its reward as 0. ``Estimate.support`` and
``Estimate.warning`` say how much of the target that concerns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RewardModel = Callable[[int, np.ndarray], np.ndarray]


@dataclass
class LoggedLists:
    """One row per (impression, shown work); impressions are numbered 0..n_impressions-1.

    An impression with no rows showed nothing (it still counts in on-policy averages).
    """

    impression: np.ndarray
    item: np.ndarray
    propensity: np.ndarray
    reward: np.ndarray
    n_impressions: int

    def __post_init__(self):
        self.impression = np.asarray(self.impression, dtype=np.int64)
        self.item = np.asarray(self.item, dtype=np.int64)
        self.propensity = np.asarray(self.propensity, dtype=np.float64)
        self.reward = np.asarray(self.reward, dtype=np.float64)
        m = len(self.impression)
        if m and self.item.min() < 0:
            raise ValueError("work ids must be non-negative")
        if any(len(x) != m for x in (self.item, self.propensity, self.reward)):
            raise ValueError("impression, item, propensity and reward must have one entry a row")
        if m and (self.impression.min() < 0 or self.impression.max() >= self.n_impressions):
            raise ValueError(f"impression indices must lie in 0..{self.n_impressions - 1}")
        # a shown work had a chance to be shown: p0 = 0 on a row means the logger lied
        if m and not np.all((self.propensity > 0) & (self.propensity <= 1)):
            raise ValueError("logged propensities must lie in (0, 1]")
        if len(np.unique(_pair_keys(self.impression, self.item))) != m:
            raise ValueError("a work is logged twice for the same impression")


@dataclass
class Estimate:
    """Estimated value (expected total reward per impression) of a target ranker."""

    ips: float
    snips: float
    dr: float | None  # None without a reward model
    dm: float | None
    ips_se: float  # standard error of ips over impressions
    dr_se: float | None
    n_impressions: int  # impressions the target could score (non-empty T_i)
    support: float  # fraction of target (impression, work) pairs with p0 > 0
    warning: str  # plain English when support < 1, else ""


def _pair_keys(impression: np.ndarray, item: np.ndarray, width: int | None = None) -> np.ndarray:
    """One int64 per (impression, item) pair so that set operations are single numpy calls."""
    if width is None:
        width = int(item.max()) + 1 if len(item) else 1
    return impression.astype(np.int64) * width + item.astype(np.int64)


def _mean_and_se(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return mean, se


def on_policy_value(logged: LoggedLists) -> tuple[float, float]:
    """What the logging policy itself earned: mean total reward per impression, and its SE."""
    per_impression = np.bincount(
        logged.impression, weights=logged.reward, minlength=logged.n_impressions
    )
    return _mean_and_se(per_impression)


def estimate(
    logged: LoggedLists,
    target: list[np.ndarray],
    reward_model: RewardModel | None = None,
    supported: list[np.ndarray] | None = None,
) -> Estimate:
    """IPS, SNIPS and (with ``reward_model``) DM and DR estimates of the target's value.

    ``target[i]`` is T_i, the works (distinct) the target would show for impression i;
    impressions with an empty T_i are left out of every estimate. With n usable impressions
    and w(i, a) = 1[a in T_i] / p0(i, a) on the shown rows:

    * IPS = (1/n) sum_i sum_a w r. Unbiased under full support, high variance.
    * SNIPS = k_bar * sum w r / sum w, k_bar the mean |T_i|: since E0[sum_a w] = |T_i| under
      full support, this rescales a per-slot self-normalised rate; a little bias, much less
      variance when propensities are small.
    * DM = (1/n) sum_i sum_{a in T_i} q(i, a), the reward model's own opinion.
    * DR = DM + (1/n) sum_i sum_a w (r - q(i, a)): unbiased if either the propensities or
      the model are right, and low variance when the model is good.

    ``reward_model(i, works)`` returns q for those works of impression i. ``supported[i]``
    is a boolean array aligned with ``target[i]``: could the logging policy have shown that
    work? When None the logs are read as a deterministic policy's, whose support is exactly
    what it showed (so pass ``supported`` for exploring logs, where every candidate had
    p0 > 0, or support will look far lower than it was).
    """
    if len(target) != logged.n_impressions:
        raise ValueError(f"{len(target)} target lists for {logged.n_impressions} impressions")
    lists = [np.asarray(t, dtype=np.int64).ravel() for t in target]
    sizes = np.array([len(t) for t in lists], dtype=np.int64)
    usable = sizes > 0
    n = int(usable.sum())
    if n == 0:
        raise ValueError("the target has no list for any impression")

    # flat (impression, work) pairs of the target, sorted by key for searchsorted lookups
    target_impression = np.repeat(np.arange(logged.n_impressions), sizes)
    target_item = np.concatenate(lists)
    width = int(max(target_item.max(), logged.item.max() if len(logged.item) else 0)) + 1
    if target_item.min() < 0 or (logged.n_impressions * width) >= 2**62:
        raise ValueError("work ids must be non-negative and small enough to pair with impressions")
    target_keys = _pair_keys(target_impression, target_item, width)
    order = np.argsort(target_keys, kind="stable")
    sorted_keys = target_keys[order]
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise ValueError("a target list holds the same work twice")

    # which logged rows are target works, and where in the flat target they sit
    row_keys = _pair_keys(logged.impression, logged.item, width)
    at = np.minimum(np.searchsorted(sorted_keys, row_keys), len(sorted_keys) - 1)
    hit = sorted_keys[at] == row_keys
    hit_target = order[at[hit]]  # flat target index of each matched row
    hit_impression = logged.impression[hit]
    weight = 1.0 / logged.propensity[hit]
    reward = logged.reward[hit]

    # support: per target pair, could it have been shown
    if supported is None:
        has_support = np.zeros(len(target_item), dtype=bool)
        has_support[hit_target] = True
    else:
        if len(supported) != logged.n_impressions:
            raise ValueError("supported needs one array per impression")
        flags = [np.asarray(s, dtype=bool).ravel() for s in supported]
        if any(len(f) != len(t) for f, t in zip(flags, lists, strict=True)):
            raise ValueError("supported[i] must be aligned with target[i]")
        has_support = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
        if not has_support[hit_target].all():
            raise ValueError("a work the logs show was shown is marked unsupported")
    support = float(has_support.mean())
    warning = ""
    if support < 1:
        share = 100 * (1 - support)
        text = f"{share:.0f}%" if share >= 1 else "under 1%"
        warning = (
            f"the logging policy gives {text} of the target's recommendations no chance "
            "of being shown: IPS and SNIPS are biased towards zero"
            + (" and DR leans on the reward model there" if reward_model is not None else "")
        )

    if not warning:  # with works the logger could not show at all, that is the news
        warning = _thin_evidence(logged, hit, len(target_item))

    def per_impression(values: np.ndarray) -> np.ndarray:
        return np.bincount(hit_impression, weights=values, minlength=logged.n_impressions)

    ips_terms = per_impression(weight * reward)[usable]
    ips, ips_se = _mean_and_se(ips_terms)
    total_weight = weight.sum()
    k_bar = sizes[usable].mean()
    snips = float(k_bar * (weight * reward).sum() / total_weight) if total_weight > 0 else 0.0

    dm = dr = dr_se = None
    if reward_model is not None:
        q = np.zeros(len(target_item))
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for i in np.flatnonzero(usable):
            values = np.asarray(reward_model(int(i), lists[i]), dtype=np.float64)
            if values.shape != lists[i].shape:
                raise ValueError(f"reward_model gave {values.shape} values for {len(lists[i])}")
            q[offsets[i] : offsets[i + 1]] = values
        dm_terms = np.bincount(target_impression, weights=q, minlength=logged.n_impressions)
        dm_terms = dm_terms[usable]
        dr_terms = dm_terms + per_impression(weight * (reward - q[hit_target]))[usable]
        dm = float(dm_terms.mean())
        dr, dr_se = _mean_and_se(dr_terms)

    return Estimate(
        ips=ips,
        snips=snips,
        dr=dr,
        dm=dm,
        ips_se=ips_se,
        dr_se=dr_se,
        n_impressions=n,
        support=support,
        warning=warning,
    )


# Fewer rewards than this on works the logger rarely showed, and the estimate of a target
# that recommends such works rests on a handful of heavily weighted rows.
THIN_REWARDS = 10
RARE_PROPENSITY = 0.5


def _thin_evidence(logged: LoggedLists, hit: np.ndarray, n_pairs: int) -> str:
    """A warning when the target's value hangs on a few rare, heavily weighted rows.

    Under exploration, a work outside the logger's own list is shown with a small
    propensity p0 and counts 1/p0 when clicked. Until many such clicks have been logged,
    the IPS terms are skewed: most samples miss the rare clicks (the estimate runs low)
    and the standard error, measured on the same samples, understates the uncertainty.
    """
    common = int((logged.propensity[hit] >= RARE_PROPENSITY).sum())
    outside = 1 - common / n_pairs if n_pairs else 0.0
    rare = hit & (logged.propensity < RARE_PROPENSITY)
    rewards = int(logged.reward[rare].sum()) if rare.any() else 0
    if outside < 0.05 or rewards >= THIN_REWARDS:
        return ""
    return (
        f"{100 * outside:.0f}% of the target's recommendations are works the logging policy "
        f"rarely showed, and only {rewards} "
        + ("reward on such works was" if rewards == 1 else "rewards on such works were")
        + " logged: the estimate rests on a few heavily weighted rows and its standard "
        "error understates the uncertainty"
    )


class ItemRateModel:
    """Smoothed per-work reward rate from logged rows, usable as ``reward_model``.

    q(a) = (sum of a's rewards + alpha * global rate) / (times a was shown + alpha): shrinks
    rarely shown works towards the global rate instead of trusting 1 click in 2 shows. It
    ignores the visitor, and rates of works the logger favoured are measured on the visitors
    it favoured them for, so it is a crude model; under full support DR stays unbiased regardless
    (it only needs the propensities right); a better model just lowers its variance.
    """

    def __init__(self, logged: LoggedLists, alpha: float = 10.0):
        if alpha <= 0:
            raise ValueError("alpha must be positive")
        self.alpha = float(alpha)
        rows = len(logged.item)
        self.global_rate = float(logged.reward.sum() / rows) if rows else 0.0
        width = int(logged.item.max()) + 1 if rows else 0
        shows = np.bincount(logged.item, minlength=width).astype(np.float64)
        rewards = np.bincount(logged.item, weights=logged.reward, minlength=width)
        self.rates = (rewards + self.alpha * self.global_rate) / (shows + self.alpha)
        # the global rate appended last, so one clipped take() answers works never shown
        # (ids past the end) too: estimate() calls this once per impression
        self._table = np.append(self.rates, self.global_rate)

    def __call__(self, impression: int, items: np.ndarray) -> np.ndarray:
        """q for ``items`` (non-negative work ids, as everywhere in this module)."""
        return np.take(self._table, np.asarray(items, dtype=np.int64), mode="clip")
