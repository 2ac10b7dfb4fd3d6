"""What an experiment shows: each arm's click-through and purchase rate, over time and in
all, with Wilson intervals, and a test of the difference (A/B) or of the interleaving wins.

A click is a view the shop reported from a served list (joined to its impression); a
rate is the share of lists that led to at least one. Lists, not collectors, are the unit:
a collector's lists are not independent, so the p-values are a little optimistic when a
few collectors make most of the lists (the page says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from webapp.api.models import ApiEvent, Experiment, Impression, ImpressionItem

CLICK_KINDS = ("view", "like")
BINS = 12


@dataclass
class Rate:
    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        from recengine.online import wilson_interval

        return wilson_interval(self.successes, self.trials)


@dataclass
class ArmStats:
    label: str  # the method, or "a"/"b" under interleaving
    share: float
    lists: int = 0
    clicked: Rate = field(default_factory=lambda: Rate(0, 0))
    bought: Rate = field(default_factory=lambda: Rate(0, 0))
    series: list[tuple[str, Rate, Rate]] = field(default_factory=list)  # cumulative by bin


@dataclass
class Comparison:
    metric: str
    first: str
    second: str
    z: float
    p_value: float


@dataclass
class ExperimentStats:
    experiment: Experiment
    arms: list[ArmStats]
    comparisons: list[Comparison]
    # Interleaving: lists won by each ranker (more clicks on its team's works), and ties.
    wins: dict[str, int] = field(default_factory=dict)
    wins_p_value: float | None = None
    bin_labels: list[str] = field(default_factory=list)


def _flags(experiment: Experiment):
    events = ApiEvent.objects.filter(impression_item__impression=OuterRef("pk"))
    return (
        Impression.objects.filter(experiment=experiment)
        .annotate(
            clicked=Exists(events.filter(kind__in=CLICK_KINDS)),
            bought=Exists(events.filter(kind="purchase")),
        )
        .order_by("created_at", "id")
        .values_list("pk", "arm", "created_at", "clicked", "bought")
    )


def _bins(rows, n_bins: int):
    """Equal slices of the experiment's time so far, each labelled by its end."""
    if not rows:
        return [], []
    start, end = rows[0][2], rows[-1][2]
    span = (end - start) / n_bins if end > start else None
    edges = [start + span * (i + 1) for i in range(n_bins)] if span else [end]
    # timedelta / n rounds to whole microseconds, so start + n * span may fall short of
    # the last list: the last edge is the last list's time, or the cumulative series would
    # end below the totals the arms table shows.
    edges[-1] = end
    fmt = "%H:%M:%S" if (end - start).days < 1 else "%Y-%m-%d %H:%M"
    return edges, [e.strftime(fmt) for e in edges]


def experiment_stats(*, experiment: Experiment) -> ExperimentStats:
    from recengine.online import two_proportion_test

    rows = list(_flags(experiment))
    edges, labels = _bins(rows, BINS)
    if experiment.design == Experiment.Design.INTERLEAVING:
        return _interleaving(experiment, rows, edges, labels)
    arms = {a["method"]: ArmStats(a["method"], a["share"]) for a in experiment.arms}
    for arm in arms.values():
        mine = [r for r in rows if r[1] == arm.label]
        arm.lists = len(mine)
        arm.clicked = Rate(sum(r[3] for r in mine), len(mine))
        arm.bought = Rate(sum(r[4] for r in mine), len(mine))
        for edge, label in zip(edges, labels, strict=True):
            upto = [r for r in mine if r[2] <= edge]
            arm.series.append(
                (
                    label,
                    Rate(sum(r[3] for r in upto), len(upto)),
                    Rate(sum(r[4] for r in upto), len(upto)),
                )
            )
    ordered = list(arms.values())
    comparisons = []
    for other in ordered[1:]:
        for metric, attr in (("click-through", "clicked"), ("purchase rate", "bought")):
            a, b = getattr(ordered[0], attr), getattr(other, attr)
            z, p = two_proportion_test(a.successes, a.trials, b.successes, b.trials)
            comparisons.append(Comparison(metric, ordered[0].label, other.label, z, p))
    return ExperimentStats(experiment, ordered, comparisons, bin_labels=labels)


def _interleaving(experiment, rows, edges, labels) -> ExperimentStats:
    """Team-draft credit per list: the ranker whose works got more clicks wins it."""
    from recengine.online import interleaving_credit, sign_test

    clicked = {}
    items = (
        ImpressionItem.objects.filter(impression__experiment=experiment)
        .annotate(
            clicked=Exists(
                ApiEvent.objects.filter(impression_item=OuterRef("pk"), kind__in=CLICK_KINDS)
            )
        )
        .values_list("impression_id", "position", "team", "clicked")
    )
    teams: dict[int, list[str]] = {}
    for impression_id, position, team, was_clicked in items.order_by("impression_id", "position"):
        teams.setdefault(impression_id, []).append(team)
        if was_clicked:
            clicked.setdefault(impression_id, []).append(position - 1)
    wins = {"a": 0, "b": 0, "tie": 0}
    for pk, *_ in rows:
        wins[interleaving_credit(teams.get(pk, []), clicked.get(pk, []))] += 1
    methods = experiment.methods
    arms = []
    for team, method in zip(("a", "b"), methods, strict=True):
        arm = ArmStats(method, 0.5, lists=len(rows))
        arm.clicked = Rate(wins[team], len(rows))
        arms.append(arm)
    p_value = sign_test(wins["a"], wins["b"]) if wins["a"] + wins["b"] else None
    return ExperimentStats(
        experiment,
        arms,
        [],
        wins={methods[0]: wins["a"], methods[1]: wins["b"], "tie": wins["tie"]},
        wins_p_value=p_value,
        bin_labels=labels,
    )
