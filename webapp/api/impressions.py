"""Every served list is kept for evaluation: who asked, which policy answered (method,
job, parameters, exploration) and each shown work's position, score and propensity."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.api.lists import ServedList
from webapp.api.models import Impression, ImpressionItem


def impression_log(
    *,
    client,
    surface: str,
    served: ServedList,
    collector=None,
    session: str = "",
    experiment=None,
    arm: str = "",
) -> uuid.UUID:
    """Store the list (one row and one bulk insert) and return its request id; with
    VITRINE_LOG_IMPRESSIONS off (for measuring what logging costs) only the id is made."""
    request_id = uuid.uuid4()
    if not getattr(settings, "VITRINE_LOG_IMPRESSIONS", True):
        return request_id
    policy = {
        **served.policy,
        "method": served.method,
        "job": served.job.pk if served.job else None,
        "model": served.model_label,
        "served_by": served.served_by,
    }
    with transaction.atomic():
        impression = Impression.objects.create(
            request_id=request_id,
            client=client,
            surface=surface,
            collector=collector,
            session=session[:100],
            method=served.method,
            job=served.job,
            policy=policy,
            experiment=experiment,
            arm=arm,
            n_candidates=served.n_candidates,
            created_at=timezone.now(),
        )
        ImpressionItem.objects.bulk_create(
            [
                ImpressionItem(
                    impression=impression,
                    artwork=item.artwork,
                    position=position,
                    score=item.score,
                    propensity=item.propensity,
                    team=item.team,
                )
                for position, item in enumerate(served.items, start=1)
            ]
        )
    return request_id
