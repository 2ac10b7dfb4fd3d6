"""Small synthetic datasets the engine tests share: each has a structure a working model
must find, so "does it learn" is a real question."""

import numpy as np
import scipy.sparse as sp
from PIL import Image

from recengine import Interactions


def clustered(n_users=60, n_items=40, per_user=8, seed=0):
    """Two user groups, each buying from its own half of the catalogue."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        half = user % 2
        chosen = rng.choice(n_items // 2, per_user, replace=False) + half * (n_items // 2)
        users += [user] * per_user
        items += chosen.tolist()
    return Interactions(
        user_ids=[str(u) for u in range(n_users)],
        item_ids=[str(i) for i in range(n_items)],
        users=users,
        items=items,
        timestamps=np.arange(len(users), dtype=float),
    )


COLOURS = np.array([[220, 40, 40], [40, 60, 220]])  # two visual styles: red, blue


def gallery(tmp_path=None, n_users=40, n_items=40, per_user=6, seed=0):
    """Items 0-19 are red works by artists 0-3, items 20-39 blue works by artists 4-7;
    even users buy red, odd users buy blue, one work every other day."""
    rng = np.random.default_rng(seed)
    style = (np.arange(n_items) >= n_items // 2).astype(int)
    features = np.eye(2)[style] * 3 + rng.normal(0, 0.5, size=(n_items, 2))
    features = np.hstack([features, rng.normal(size=(n_items, 6))]).astype(np.float32)
    artists = np.arange(n_items) // 5
    attributes = sp.csr_matrix((np.ones(n_items), (np.arange(n_items), artists)))
    users, items, times = [], [], []
    for user in range(n_users):
        pool = np.flatnonzero(style == user % 2)
        for day, item in enumerate(rng.choice(pool, per_user, replace=False)):
            users.append(user)
            items.append(item)
            times.append(2 * 86400.0 * (day + user % 3) + user)
    images = None
    if tmp_path is not None:
        images = []
        for item in range(n_items):
            pixels = COLOURS[style[item]] + rng.integers(-30, 30, size=(16, 16, 3))
            path = tmp_path / f"{item}.png"
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path)
            images.append(str(path))
    return Interactions(
        user_ids=[f"u{u}" for u in range(n_users)],
        item_ids=[f"i{i}" for i in range(n_items)],
        users=users,
        items=items,
        timestamps=times,
        item_features=features,
        item_attributes=attributes,
        attribute_names=[f"artist={a}" for a in range(attributes.shape[1])],
        item_images=images,
    )


def own_style_share(model, users, k=5):
    top, _ = model.recommend(users, k=k)
    return ((top >= 20).astype(int) == (users[:, None] % 2)).mean()
