import numpy as np
import pytest

from recengine import metrics

INF = np.inf

# One user, 5 items. Ranking by score: item0 (.9), item3 (.7), item2 (.5), item4 (.3), item1 (.1).
# Relevant: items 2 and 4, at ranks 3 and 4.
SCORES = np.array([[0.9, 0.1, 0.5, 0.7, 0.3]])
RELEVANT = np.array([[False, False, True, False, True]])


def test_recall_and_hit_rate_hand_computed():
    assert metrics.recall_at_k(SCORES, RELEVANT, 1)[0] == 0.0
    assert metrics.recall_at_k(SCORES, RELEVANT, 3)[0] == pytest.approx(0.5)  # item2 only
    assert metrics.recall_at_k(SCORES, RELEVANT, 4)[0] == pytest.approx(1.0)
    assert metrics.recall_at_k(SCORES, RELEVANT, 50)[0] == pytest.approx(1.0)  # k > n_items
    assert metrics.hit_rate_at_k(SCORES, RELEVANT, 2)[0] == 0.0
    assert metrics.hit_rate_at_k(SCORES, RELEVANT, 3)[0] == 1.0


def test_ndcg_hand_computed():
    # @3: DCG = 1/log2(4) = 0.5; ideal over min(2, 3) = 2 hits: 1 + 1/log2(3) = 1.63093
    assert metrics.ndcg_at_k(SCORES, RELEVANT, 3)[0] == pytest.approx(0.5 / 1.6309298, rel=1e-6)
    # @5: DCG = 1/log2(4) + 1/log2(5) = 0.5 + 0.4306766 = 0.9306766
    assert metrics.ndcg_at_k(SCORES, RELEVANT, 5)[0] == pytest.approx(
        0.9306766 / 1.6309298, rel=1e-6
    )
    # @1: ideal over min(2, 1) = 1 hit; no hit at rank 1
    assert metrics.ndcg_at_k(SCORES, RELEVANT, 1)[0] == 0.0
    # perfect ranking -> 1
    assert metrics.ndcg_at_k(np.array([[0.1, 0.9, 0.8]]), np.array([[0, 1, 1]], bool), 2)[0] == 1.0


def test_auc_hand_computed():
    # positives .5 and .3 vs negatives .9 .1 .7: each beats only .1 -> 2 of 6 pairs
    assert metrics.auc(SCORES, RELEVANT)[0] == pytest.approx(1 / 3)
    # excluding item 1 from the candidates leaves no pair won -> 0
    candidates = np.array([[True, False, True, True, True]])
    assert metrics.auc(SCORES, RELEVANT, candidates)[0] == 0.0


def test_ties_and_excluded_items():
    # Item 4 excluded (-inf). Positive item0 (.5) vs negatives: item1 .5 (tie, 0.5),
    # item2 .2 (1), item3 .8 (0) -> 1.5 / 3 = 0.5.
    scores = np.array([[0.5, 0.5, 0.2, 0.8, -INF]])
    relevant = np.array([[True, False, False, False, False]])
    assert metrics.auc(scores, relevant)[0] == pytest.approx(0.5)
    # Ranking: item3, then the tie item0/item1 broken by lower index -> item0 at rank 2.
    assert metrics.top_k(scores, 3).tolist() == [[3, 0, 1]]
    assert metrics.recall_at_k(scores, relevant, 1)[0] == 0.0
    assert metrics.recall_at_k(scores, relevant, 2)[0] == 1.0
    assert metrics.ndcg_at_k(scores, relevant, 2)[0] == pytest.approx(1 / np.log2(3))


def test_excluded_relevant_item_is_never_a_hit():
    scores = np.array([[1.0, -INF, -INF]])
    relevant = np.array([[False, True, False]])
    assert metrics.recall_at_k(scores, relevant, 3)[0] == 0.0
    assert metrics.ndcg_at_k(scores, relevant, 3)[0] == 0.0
    assert np.isnan(metrics.auc(scores, relevant)[0])  # the positive is not a candidate


def test_batch_rows_are_independent_and_undefined_is_nan():
    scores = np.vstack([SCORES, SCORES[:, ::-1]])
    relevant = np.vstack([RELEVANT, np.zeros((1, 5), bool)])
    recall = metrics.recall_at_k(scores, relevant, 3)
    assert recall[0] == pytest.approx(0.5) and np.isnan(recall[1])
    assert np.isnan(metrics.auc(scores, relevant)[1])
    assert np.isnan(metrics.ndcg_at_k(scores, relevant, 3)[1])
    assert np.isnan(metrics.hit_rate_at_k(scores, relevant, 3)[1])


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(20, 12)).astype(float)  # many ties
    relevant = rng.random((20, 12)) < 0.3
    relevant[:, 0] = True
    relevant[:, 1] = False
    expected = []
    for s, r in zip(scores, relevant, strict=True):
        pos, neg = s[r], s[~r]
        diff = pos[:, None] - neg[None, :]
        expected.append(((diff > 0) + 0.5 * (diff == 0)).mean())
    np.testing.assert_allclose(metrics.auc(scores, relevant), expected)
    # both internal strategies (pairwise for few positives, rank-sum for many) agree
    candidates = np.isfinite(scores)
    np.testing.assert_allclose(
        metrics._pairwise_wins(scores, relevant, candidates & ~relevant),
        metrics._rank_sum_wins(scores, relevant, candidates),
    )


def test_top_k_matches_stable_sort():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=(30, 17)).astype(float)
    scores[rng.random(scores.shape) < 0.2] = -INF
    full = np.argsort(-scores, axis=1, kind="stable")
    for k in (1, 4, 16, 17, 40):
        np.testing.assert_array_equal(metrics.top_k(scores, k), full[:, :k])


def test_precision_map_and_mrr_hand_computed():
    # ranking item0, item3, item2, item4, item1; relevant items 2 and 4 at ranks 3 and 4
    assert metrics.precision_at_k(SCORES, RELEVANT, 3)[0] == pytest.approx(1 / 3)
    assert metrics.precision_at_k(SCORES, RELEVANT, 4)[0] == pytest.approx(2 / 4)
    # AP@4 = (P@3 + P@4) / min(2, 4) = (1/3 + 1/2) / 2
    assert metrics.map_at_k(SCORES, RELEVANT, 4)[0] == pytest.approx((1 / 3 + 1 / 2) / 2)
    # AP@3 = P@3 / min(2, 3) = (1/3) / 2
    assert metrics.map_at_k(SCORES, RELEVANT, 3)[0] == pytest.approx(1 / 6)
    assert metrics.map_at_k(SCORES, RELEVANT, 2)[0] == 0.0
    # first relevant item at rank 3
    assert metrics.reciprocal_rank(SCORES, RELEVANT)[0] == pytest.approx(1 / 3)


def test_reciprocal_rank_ties_excluded_and_known_ranks():
    # item1 ties the relevant item0 and loses the tie (higher index): rank 2 after item3
    scores = np.array([[0.5, 0.5, 0.2, 0.8, -INF]])
    relevant = np.array([[True, False, False, False, False]])
    assert metrics.reciprocal_rank(scores, relevant)[0] == pytest.approx(1 / 2)
    # the only relevant item is excluded: never found (0); no relevant item at all: NaN
    rr = metrics.reciprocal_rank(
        np.array([[1.0, -INF], [1.0, 2.0]]), np.array([[False, True], [False, False]])
    )
    assert rr[0] == 0.0 and np.isnan(rr[1])
    # a rank already known from the top-k pass is trusted
    assert metrics.reciprocal_rank(SCORES, RELEVANT, known_first_hit=np.array([2]))[0] == 0.5


def test_coverage_and_novelty_hand_computed():
    recommended = np.array([[0, 1], [1, -1]])  # second list padded
    assert metrics.coverage(recommended, n_items=4) == pytest.approx(2 / 4)
    popularity = np.array([3, 1, 0, 0])  # training users per item, 3 users in all
    information = metrics.self_information(popularity, n_users=3)
    # p = (count + 1) / (n_users + 1): item0 4/4 -> 0 bits, item1 2/4 -> 1 bit
    np.testing.assert_allclose(information, [0.0, 1.0, 2.0, 2.0])
    np.testing.assert_allclose(metrics.novelty(recommended, information), [0.5, 1.0])


def test_top_k_on_large_rows_agrees_with_the_reference():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 50, size=(64, 3000)).astype(np.float32)  # ties everywhere
    full = np.argsort(-scores, axis=1, kind="stable")
    np.testing.assert_array_equal(metrics.top_k(scores, 20), full[:, :20])
