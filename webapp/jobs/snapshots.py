"""What a job trained on, as an id and a hash: the exact interactions and features.

Two jobs with the same snapshot id saw byte-identical data, so a result can be
reproduced (or a difference explained) from the job record alone.
"""

from __future__ import annotations

import hashlib

import numpy as np


def snapshot_of(data, feature_set=None) -> dict:
    """{"id", "sha256", "interactions", "users", "items", "feature_set"} of an engine
    dataset (recengine.Interactions) and the feature set behind its item features."""
    digest = hashlib.sha256()
    for ids in (data.user_ids, data.item_ids, getattr(data, "kind_names", None)):
        if ids is not None:
            digest.update("\x1f".join(str(v) for v in ids).encode())
        digest.update(b"\x1e")
    # What happened (each event's kind and weight) is part of the data: a like turned into
    # a purchase is another snapshot.
    for array in (
        data.users,
        data.items,
        data.timestamps,
        data.ratings,
        getattr(data, "kinds", None),
        getattr(data, "weights", None),
    ):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"\x1e")
    if feature_set is not None:
        digest.update(feature_set.sha256.encode())
    sha = digest.hexdigest()
    return {
        "id": sha[:12],
        "sha256": sha,
        "interactions": int(len(data)),
        "users": int(data.n_users),
        "items": int(data.n_items),
        "feature_set": (
            {"id": feature_set.pk, "sha256": feature_set.sha256, "source": feature_set.source}
            if feature_set is not None
            else None
        ),
    }
