import itertools
import math

import numpy as np
import pytest
from scipy import stats

from recengine.online import (
    arm_for,
    epsilon_greedy_list,
    inclusion_propensity,
    interleaving_credit,
    sign_test,
    team_draft_interleave,
    two_proportion_test,
    wilson_interval,
)

SEEDS = range(10)

# --------------------------------------------------------------------------- arm_for


def test_arm_assignment_is_stable_and_follows_the_shares():
    shares = [0.2, 0.3, 0.5]
    keys = [f"visitor-{n}" for n in range(10_000)]
    arms = np.array([arm_for(key, "exp-1", shares) for key in keys])
    assert arms.tolist() == [arm_for(key, "exp-1", shares) for key in keys]  # stable
    counts = np.bincount(arms, minlength=3)
    for count, share in zip(counts, shares, strict=True):
        sigma = math.sqrt(len(keys) * share * (1 - share))
        assert abs(count - len(keys) * share) < 4 * sigma
    # shares are normalised: weights 2:3:5 are the same split
    assert [arm_for(key, "exp-1", [2, 3, 5]) for key in keys[:500]] == arms[:500].tolist()


def test_another_salt_reshuffles_visitors():
    keys = [f"visitor-{n}" for n in range(2_000)]
    first = np.array([arm_for(key, "exp-1", [1, 1]) for key in keys])
    second = np.array([arm_for(key, "exp-2", [1, 1]) for key in keys])
    # independent halves agree on about half the visitors, not on all of them
    assert abs((first == second).mean() - 0.5) < 4 * math.sqrt(0.25 / len(keys))


def test_arm_with_zero_share_is_never_drawn_and_bad_shares_are_refused():
    assert {arm_for(f"k{n}", "s", [0, 1, 0]) for n in range(300)} == {1}
    for bad in ([], [-1, 2], [0, 0]):
        with pytest.raises(ValueError):
            arm_for("k", "s", bad)


# --------------------------------------------------------------------------- epsilon-greedy


def test_inclusion_propensity_formula():
    assert inclusion_propensity(True, 0.2, 5, 40) == pytest.approx(0.8 + 0.2 * 5 / 40)
    assert inclusion_propensity(False, 0.2, 5, 40) == pytest.approx(0.2 * 5 / 40)
    np.testing.assert_allclose(
        inclusion_propensity(np.array([True, False]), 0.5, 10, 4),
        [1.0, 0.5],  # k capped at N
    )


def test_shown_propensities_match_the_monte_carlo_inclusion_rate():
    candidates = np.array([107, 103, 100, 109, 101, 105, 102, 108, 104, 106])
    ranked = np.array([105, 100, 108, 101, 109, 103])  # a ranker scoring 6 of them
    k, epsilon, draws = 3, 0.25, 3_000
    expected = inclusion_propensity(np.isin(candidates, ranked[:k]), epsilon, k, len(candidates))
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        draws_ = [epsilon_greedy_list(ranked, candidates, k, epsilon, rng) for _ in range(draws)]
        shown = np.array([d[0] for d in draws_])
        propensities = np.array([d[1] for d in draws_])
        explored = np.array([d[2] for d in draws_])
        assert all(len(set(row)) == k for row in shown.tolist())
        in_top = (shown[:, :, None] == ranked[None, None, :k]).any(axis=2)
        np.testing.assert_allclose(
            propensities, inclusion_propensity(in_top, epsilon, k, len(candidates))
        )
        assert (shown[~explored] == ranked[:k]).all()
        rate = (shown[:, :, None] == candidates[None, None, :]).any(axis=1).mean(axis=0)
        sigma = np.sqrt(expected * (1 - expected) / draws)
        assert np.all(np.abs(rate - expected) < 4 * sigma), seed
        sigma = math.sqrt(epsilon * (1 - epsilon) / draws)
        assert abs(explored.mean() - epsilon) < 4 * sigma


def test_epsilon_zero_is_the_ranker_and_epsilon_one_is_uniform():
    rng = np.random.default_rng(0)
    candidates = np.arange(8)
    ranked = np.array([5, 2, 7, 0])
    shown, propensities, explored = epsilon_greedy_list(ranked, candidates, 3, 0.0, rng)
    assert shown.tolist() == [5, 2, 7] and propensities.tolist() == [1.0, 1.0, 1.0]
    assert not explored
    shown, propensities, explored = epsilon_greedy_list(ranked, candidates, 3, 1.0, rng)
    assert explored and np.allclose(propensities, 3 / 8)
    # k beyond the candidates shows them all, each with certainty
    shown, propensities, _ = epsilon_greedy_list(ranked, np.array([0, 2, 5, 7]), 9, 0.5, rng)
    assert sorted(shown.tolist()) == [0, 2, 5, 7] and np.allclose(propensities, 1.0)
    with pytest.raises(ValueError, match="not candidates"):
        epsilon_greedy_list(np.array([99]), candidates, 1, 0.1, rng)


# --------------------------------------------------------------------------- interleaving


def test_team_draft_draws_each_item_from_its_team_without_duplicates():
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        a = rng.permutation(20)[:10].tolist()
        b = rng.permutation(20)[:10].tolist()
        items, teams = team_draft_interleave(a, b, 8, rng)
        assert len(items) == 8 == len(teams) and len(set(items)) == 8
        for item, team in zip(items, teams, strict=True):
            assert item in {"a": a, "b": b, "both": a}[team]
        # in every prefix, the teams' counts differ by at most one (after the shared prefix)
        drafted = [t for t in teams if t != "both"]
        for n in range(len(drafted) + 1):
            assert abs(drafted[:n].count("a") - drafted[:n].count("b")) <= 1


def test_team_draft_picks_each_teams_highest_remaining_item():
    a, b = [1, 2, 3, 4], [3, 5, 1, 6]
    for seed in SEEDS:
        items, teams = team_draft_interleave(a, b, 6, np.random.default_rng(seed))
        placed: list[int] = []
        for item, team in zip(items, teams, strict=True):
            ranking = a if team == "a" else b
            assert item == next(x for x in ranking if x not in placed)
            placed.append(item)


def test_exhausted_lists_stop_the_interleaving():
    items, teams = team_draft_interleave([1, 2], [3], 5, np.random.default_rng(0))
    assert sorted(items) == [1, 2, 3] and teams.count("a") == 2 and teams.count("b") == 1
    assert team_draft_interleave([], [], 3, np.random.default_rng(0)) == ([], [])


def test_identical_lists_tie_whatever_is_clicked():
    ranking = [4, 8, 15, 16, 23]
    for seed in SEEDS:
        items, teams = team_draft_interleave(ranking, list(ranking), 4, np.random.default_rng(seed))
        assert items == ranking[:4]
        for size in range(5):
            for clicks in itertools.combinations(range(4), size):
                assert interleaving_credit(teams, list(clicks)) == "tie"


def test_a_user_who_likes_as_top_works_makes_a_win():
    a = list(range(10))
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        outcomes = []
        for _ in range(100):
            b = rng.permutation(a).tolist()  # b ranks the same works at random
            items, teams = team_draft_interleave(a, b, 6, rng)
            clicks = [p for p, item in enumerate(items) if item < 3 and rng.random() < 0.7]
            outcomes.append(interleaving_credit(teams, clicks))
        wins_a, wins_b = outcomes.count("a"), outcomes.count("b")
        assert wins_a > 2 * wins_b and sign_test(wins_a, wins_b) < 0.01, seed


def test_credit_counts_clicks_per_team():
    teams = ["both", "a", "b", "b", "a"]
    assert interleaving_credit(teams, [0]) == "tie"
    assert interleaving_credit(teams, [1, 2, 4]) == "a"
    assert interleaving_credit(teams, [2, 2, 3, 1]) == "b"  # a repeated click counts once
    with pytest.raises(ValueError):
        interleaving_credit(teams, [5])


# --------------------------------------------------------------------------- statistics


def test_wilson_interval_by_hand():
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(1.96**2 / (20 + 1.96**2))
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and low == pytest.approx(20 / (20 + 1.96**2))


def test_two_proportion_test_by_hand():
    z, p = two_proportion_test(60, 100, 40, 100)
    # pooled rate 0.5, standard error sqrt(0.25 * (1/100 + 1/100))
    assert z == pytest.approx(0.2 / math.sqrt(0.25 * 0.02))
    assert p == pytest.approx(2 * stats.norm.sf(0.2 / math.sqrt(0.005)))
    assert p == pytest.approx(0.00468, abs=1e-5)
    z, p = two_proportion_test(40, 100, 60, 100)
    assert z < 0 and p == pytest.approx(0.00468, abs=1e-5)
    for degenerate in [(0, 0, 3, 10), (0, 10, 0, 10), (10, 10, 5, 5)]:
        assert two_proportion_test(*degenerate) == (0.0, 1.0)


def test_sign_test_is_the_exact_binomial():
    assert sign_test(15, 5) == pytest.approx(stats.binomtest(15, 20, 0.5).pvalue)
    assert sign_test(15, 5) == pytest.approx(0.041389, abs=1e-6)
    assert sign_test(5, 15) == pytest.approx(sign_test(15, 5))
    assert sign_test(0, 0) == 1.0 and sign_test(3, 3) == 1.0
