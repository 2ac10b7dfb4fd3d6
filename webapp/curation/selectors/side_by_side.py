"""Two to four recommenders' top-k for one collector, side by side, each asked with the
collector's history minus their last purchase or like (the held-out work), so every
column shows whether it would have found what the collector actually took next.

Holding the work out of the profile is not enough when the model learned from that very
purchase (a served model refitted on every event: its popularity counts, its item and
collector vectors). So a column asks a model that never saw it: the job's evaluation
model (fitted on the train part of its split) when the purchase was that split's held-out
event, or the served model when the purchase came after the job trained. When neither
holds, the column still shows the served model's list but says plainly that it is not a
fair test, and never that it found the work.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count

from webapp.catalogue.datasets import CONSUMED_KINDS, item_key, user_key
from webapp.catalogue.models import Collector, Interaction
from webapp.curation.selectors.evaluations import evaluation_of
from webapp.curation.selectors.recommenders import (
    evaluation_model,
    job_params_label,
    profile_recommendations,
    recommender_resolve,
    served_model,
    unsold_artwork_ids,
)
from webapp.curation.selectors.visual import FeatureSpace, active_feature_space, list_diversity
from webapp.jobs.methods import method_reference
from webapp.jobs.models import TrainingJob
from webapp.jobs.serving import Recommendation, collector_consumed

MIN_COLUMNS, MAX_COLUMNS = 2, 4
SERVED, EVALUATION = "served model", "evaluation model"
NOT_FAIR = "this model saw this purchase in training: not a fair test"


@dataclass
class Column:
    choice: str
    job: TrainingJob | None = None
    params: str = ""  # hyperparameters that differ from the method's defaults
    reference: str = ""  # a reference line's label (the oracle); "" for a method
    items: list[Recommendation] = field(default_factory=list)
    served_by: str = ""
    held_out_rank: int | None = None  # 1-based rank of the held-out work, if listed
    profile_only: bool = True  # False: asked with the model's learned collector vector
    model_used: str = ""  # SERVED or EVALUATION
    fair: bool = False  # the model asked never trained on the held-out purchase
    fairness: str = ""  # why it is (or is not) a fair test, in words
    diversity: float | None = None
    novelty: float | None = None
    error: str = ""

    @property
    def found(self) -> bool:
        """Listed the held-out work, with a model that could not have memorised it."""
        return self.fair and self.held_out_rank is not None


@dataclass
class SideBySide:
    collector: Collector
    held_out: Interaction | None
    profile_size: int
    columns: list[Column]
    shared: dict[int, int]  # artwork id -> number of columns listing it (2 or more)
    feature_set: object = None
    message: str = ""


def list_novelty(*, artwork_ids: list[int], without: int | None = None) -> float | None:
    """Mean self-information -log2((collectors who took the work + 1) / (collectors + 1))
    of the works, by today's purchases and likes (recengine.metrics), leaving out the
    event ``without`` (the held-out purchase: a list is not less novel for finding it)."""
    if not artwork_ids:
        return None
    from recengine.metrics import novelty, self_information

    counts = dict(
        Interaction.objects.filter(artwork_id__in=artwork_ids, kind__in=CONSUMED_KINDS)
        .exclude(pk=without)
        .values("artwork_id")
        .annotate(n=Count("collector_id", distinct=True))
        .values_list("artwork_id", "n")
    )
    popularity = np.asarray([counts.get(pk, 0) for pk in artwork_ids], dtype=np.float64)
    information = self_information(popularity, Collector.objects.count())
    return float(novelty(np.arange(len(artwork_ids))[None, :], information)[0])


def _model_to_ask(job: TrainingJob, held_out: Interaction) -> tuple[str, str]:
    """(SERVED, EVALUATION or "" when every model of the job trained on the held-out
    purchase; why, in words)."""
    last_event = (job.snapshot or {}).get("last_event_id")
    if last_event is not None and held_out.pk > int(last_event):
        return SERVED, "this purchase came after the job trained: its served model never saw it"
    evaluation = evaluation_of(job)
    pair = (user_key(held_out.collector_id), item_key(held_out.artwork_id))
    held_out_by_split = evaluation is not None and pair in evaluation.held_out_pairs()
    if held_out_by_split and job.evaluation_model_artefact is not None:
        return EVALUATION, (
            "asked the job's evaluation model, fitted without this purchase (the held-out "
            "event of its test split)"
        )
    return "", NOT_FAIR


def _column(
    choice: str,
    *,
    collector: Collector,
    held_out: Interaction,
    profile_ids: list[int],
    allowed: np.ndarray,
    k: int,
    space: FeatureSpace | None,
) -> Column:
    column = Column(choice=choice, job=recommender_resolve(choice))
    if column.job is None:
        column.error = f"{choice} has no trained model to serve."
        return column
    column.params = job_params_label(column.job)
    column.reference = method_reference(column.job.method)
    which, column.fairness = _model_to_ask(column.job, held_out)
    column.fair = bool(which)
    column.model_used = which or SERVED
    evaluated = which == EVALUATION
    model = evaluation_model(column.job) if evaluated else served_model(column.job)
    ask = dict(
        job=column.job,
        model=model,
        profile_ids=profile_ids,
        exclude_ids=profile_ids,
        allowed_ids=allowed,
        k=k,
        use_index=not evaluated,  # the job's index is the served model's
    )
    result = profile_recommendations(**ask)
    if not result.items:
        user_index = int(model.user_index([user_key(collector.pk)])[0])
        if user_index >= 0:  # a model of training users only: ask with its learned vector
            result = profile_recommendations(**ask, user_index=user_index)
            column.profile_only = False
    if not result.items:
        column.error = "This model cannot recommend from a profile it was not trained on."
    column.items, column.served_by = result.items, result.served_by
    ids = [r.artwork.pk for r in result.items]
    if held_out.artwork_id in ids:
        column.held_out_rank = ids.index(held_out.artwork_id) + 1
    column.diversity = list_diversity(artwork_ids=ids, space=space)
    column.novelty = list_novelty(artwork_ids=ids, without=held_out.pk)
    return column


def side_by_side(*, collector: Collector, choices: list[str], k: int) -> SideBySide:
    consumed = list(collector_consumed(collector=collector))
    if len({i.artwork_id for i in consumed}) < 2:
        return SideBySide(
            collector,
            None,
            0,
            [],
            {},
            message="This collector has fewer than two purchases or likes: nothing to hold out.",
        )
    held_out = consumed[-1]
    profile_ids = list(
        dict.fromkeys(i.artwork_id for i in consumed[:-1] if i.artwork_id != held_out.artwork_id)
    )
    # Today's available works, plus the held-out one: it was sold to this very collector,
    # and a column can only find it if it may list it.
    allowed = np.union1d(unsold_artwork_ids(), [held_out.artwork_id])
    space = active_feature_space()
    columns = [
        _column(
            choice,
            collector=collector,
            held_out=held_out,
            profile_ids=profile_ids,
            allowed=allowed,
            k=k,
            space=space,
        )
        for choice in choices
    ]
    counts = Counter(r.artwork.pk for column in columns for r in column.items)
    return SideBySide(
        collector=collector,
        held_out=held_out,
        profile_size=len(profile_ids),
        columns=columns,
        shared={pk: n for pk, n in counts.items() if n > 1},
        feature_set=space.feature_set if space else None,
    )
