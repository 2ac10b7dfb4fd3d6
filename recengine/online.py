"""Serving-time policies and the statistics of online experiments.

Three tools for learning from live traffic, each built so that what is logged can later be
analysed without guessing:

* ``arm_for`` assigns a visitor to an A/B arm by hashing, so an assignment needs no table
  and a visitor stays in the same arm on every request and every server.
* ``epsilon_greedy_list`` is an exploring list policy whose per-work inclusion propensities
  are known exactly, which is what off-policy evaluation (``recengine.offpolicy``) needs.
* ``team_draft_interleave`` merges two rankers' lists into one, so that a single visitor
  compares them (far fewer visitors than an A/B test for the same power).

Plus small, dependency-free tests for the resulting counts: Wilson intervals, a pooled
two-proportion z-test and an exact sign test for interleaving wins.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math

import numpy as np
from scipy import stats

# --------------------------------------------------------------------------- assignment


def arm_for(key: str, salt: str, shares: list[float]) -> int:
    """The arm (index into ``shares``) that ``key`` (a visitor or session id) falls in.

    sha256 of ``f"{salt}:{key}"`` gives a number u uniform in [0, 1) from its first 8 bytes;
    the arm is the one whose slice of the cumulative, normalised shares holds u. A new salt
    per experiment re-shuffles visitors, so one experiment's arms are independent of the
    last one's (reusing a salt would put the same visitors in "treatment" every time).
    """
    # plain Python, not numpy: this runs once per request and numpy's call overhead on a
    # three-element list costs more than the hash
    weights = [float(share) for share in shares]
    total = sum(weights)
    if not weights or any(not math.isfinite(w) or w < 0 for w in weights) or total <= 0:
        raise ValueError(f"shares must be non-negative with a positive sum, got {shares}")
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    edges = [edge / total for edge in itertools.accumulate(weights)]
    # bisect_right: u equal to an edge belongs to the next arm, so an arm of share 0 (an
    # empty slice) is never drawn; min() guards against the last edge rounding below 1.
    return min(bisect.bisect_right(edges, u), len(weights) - 1)


# --------------------------------------------------------------------------- exploration


def inclusion_propensity(item_in_ranked_topk, epsilon: float, k: int, n_candidates: int):
    """Probability that ``epsilon_greedy_list`` shows a work anywhere in its list.

    ``p(a) = (1 - epsilon) * [a in ranked[:k]] + epsilon * min(k, N) / N``: the exploit branch
    shows the ranker's top k; the explore branch a uniform sample of min(k, N) of the N
    candidates, in which each candidate appears with probability min(k, N) / N.
    ``item_in_ranked_topk`` is a bool or a boolean array; the result has its shape. The
    off-policy code calls this for works that were *not* shown, whose propensity the logs
    do not hold.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if n_candidates <= 0 or k <= 0:
        raise ValueError("k and n_candidates must be positive")
    in_top = np.asarray(item_in_ranked_topk, dtype=np.float64)
    p = (1.0 - epsilon) * in_top + epsilon * min(k, n_candidates) / n_candidates
    return float(p) if p.ndim == 0 else p


def epsilon_greedy_list(
    ranked: np.ndarray,
    candidates: np.ndarray,
    k: int,
    epsilon: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Show the ranker's top k, or with probability ``epsilon`` k random candidates.

    ``ranked`` is the deterministic ranker's order (works of ``candidates``, best first);
    the explore branch shows a uniformly random *ordered* sample of min(k, N) distinct works
    of the N ``candidates`` (ordered, so position effects are explored too). Returns
    ``(shown, propensities, explored)`` where ``propensities[j]`` is the exact probability
    that ``shown[j]`` appears in the list at all (``inclusion_propensity``), whichever
    branch was taken: that marginal, not the branch's own probability, is what
    inverse-propensity weighting needs, and it is never 0 for a candidate when epsilon > 0.
    """
    ranked = np.asarray(ranked)
    candidates = np.asarray(candidates)
    n = len(candidates)
    if n == 0:
        raise ValueError("no candidates to show")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    top = ranked[:k]
    # the ranker must rank candidates only: a work outside them would be shown with a
    # propensity the formula does not describe. Small arrays, so a broadcast beats isin.
    if not (top[:, None] == candidates[None, :]).any(axis=1).all():
        raise ValueError("ranked[:k] holds works that are not candidates")
    size = min(k, n)
    # inclusion_propensity's formula, inlined: this runs once per request
    explore_share = epsilon * size / n
    explored = bool(epsilon > 0 and rng.random() < epsilon)
    if not explored:
        shown = top.copy()
        return shown, np.full(len(shown), 1.0 - epsilon + explore_share), False
    if n <= 1000:
        # a permutation's first `size` entries are a uniform ordered sample, and for a few
        # hundred candidates this is three times faster than Generator.choice
        shown = candidates[rng.permutation(n)[:size]]
    else:  # choice samples without permuting all n
        shown = rng.choice(candidates, size=size, replace=False)
    in_top = (shown[:, None] == top[None, :]).any(axis=1)
    return shown, np.where(in_top, 1.0 - epsilon + explore_share, explore_share), True


# --------------------------------------------------------------------------- interleaving

SHARED = "both"  # label of the common prefix, credited to neither team


def team_draft_interleave(
    a: list[int], b: list[int], k: int, rng: np.random.Generator
) -> tuple[list[int], list[str]]:
    """Team-draft interleaving (Radlinski, Kurup & Joachims, CIKM 2008) of two rankings.

    Each round a fair coin decides which team picks first; then each team in turn adds its
    highest-ranked work not yet in the list. Stops at k works or when both lists are spent.
    Returns the merged list and, per position, the team that placed it: "a" or "b".

    One refinement (as in Lerot's team-draft and Chapelle et al. 2012): the *common prefix*
    (ranks where a and b hold the same work) is placed first, labelled ``"both"`` and
    credited to neither. Plain team-draft would hand those agreed works to whichever team the
    coin favoured, so two identical rankers would "win" or "lose" impressions at random; with
    the prefix rule identical rankers always tie, and clicks only measure disagreement.
    """
    items: list[int] = []
    teams: list[str] = []
    prefix = 0
    while prefix < min(len(a), len(b), k) and a[prefix] == b[prefix]:
        items.append(a[prefix])
        teams.append(SHARED)
        prefix += 1
    placed = set(items)
    cursor = {"a": prefix, "b": prefix}
    source = {"a": a, "b": b}

    def next_pick(team: str):
        # advance past works the other team (or the prefix) already placed
        ranking, i = source[team], cursor[team]
        while i < len(ranking) and ranking[i] in placed:
            i += 1
        cursor[team] = i
        return ranking[i] if i < len(ranking) else None

    while len(items) < k:
        order = ("a", "b") if rng.random() < 0.5 else ("b", "a")
        progressed = False
        for team in order:
            if len(items) >= k:
                break
            pick = next_pick(team)
            if pick is None:  # this team's list is spent; the other keeps picking
                continue
            items.append(pick)
            teams.append(team)
            placed.add(pick)
            progressed = True
        if not progressed:
            break
    return items, teams


def interleaving_credit(teams: list[str], clicked_positions: list[int]) -> str:
    """ "a", "b" or "tie": the team whose placed works got more of the clicks.

    Positions index ``teams`` (the list ``team_draft_interleave`` returned); a position
    clicked twice counts once, and clicks on the shared prefix count for neither.
    """
    clicks = set(int(p) for p in clicked_positions)
    if any(p < 0 or p >= len(teams) for p in clicks):
        raise ValueError(f"clicked positions {sorted(clicks)} outside a list of {len(teams)}")
    wins_a = sum(teams[p] == "a" for p in clicks)
    wins_b = sum(teams[p] == "b" for p in clicks)
    return "a" if wins_a > wins_b else "b" if wins_b > wins_a else "tie"


# --------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0.0, 1.0) when there are no trials.

    Wilson rather than the normal approximation because click and purchase rates are small:
    p ± z·sqrt(p(1-p)/n) dips below 0 and collapses to a point at 0 successes.
    """
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes in {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_test(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float]:
    """Pooled two-sided z-test of s1/n1 against s2/n2: ``(z, p_value)``.

    Degenerate cases (an empty arm, or a pooled rate of exactly 0 or 1, where the variance
    is 0) return (0.0, 1.0): no evidence either way rather than a division by zero.
    """
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (s1 + s2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0, 1.0
    z = (s1 / n1 - s2 / n2) / math.sqrt(variance)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def sign_test(wins_a: int, wins_b: int) -> float:
    """Two-sided exact binomial p-value of ``wins_a`` against ``wins_b`` (p = 1/2).

    The test for interleaving: each non-tied impression is a coin that lands "a" or "b";
    the caller leaves ties out (they say nothing about which ranker is better).
    """
    if wins_a < 0 or wins_b < 0:
        raise ValueError("win counts must be non-negative")
    if wins_a + wins_b == 0:
        return 1.0
    return float(stats.binomtest(wins_a, wins_a + wins_b, 0.5).pvalue)
