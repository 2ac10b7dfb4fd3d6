"""A simulated shop: the demo gallery's collectors, with the hidden tastes the generator
gave them, visit the shop through the API, get lists, click and buy by those tastes.

A shopper clicks a shown work with probability CLICK_SCALE * sigmoid((a - c) / tau),
a = taste . style (the generator's affinity), c = the shopper's mean affinity + a margin,
and buys a clicked work with probability BUY_GIVEN_CLICK: rates that leave most of the
demo's stock (about 130 unsold works) on the walls over a few thousand visits. Neither
depends on the work's position or on the other works in the list: the assumption the
off-policy estimators make, true here by construction (a real shop's position bias would
break it; see recengine/offpolicy.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import numpy as np

from webapp.catalogue.demo_gallery.model import LIKE_MARGIN, LIKE_TEMPERATURE
from webapp.catalogue.models import Artwork, Collector

CLICK_SCALE = 0.3
BUY_GIVEN_CLICK = 0.05


class HttpShop:
    """The API over HTTP (the demo's running server)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base, self.token = base_url.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            body = error.read() or b"{}"
            try:
                return error.code, json.loads(body)
            except ValueError:  # a server error's page, not the API's JSON
                return error.code, {"detail": body.decode(errors="replace")}


class InProcessShop:
    """The API through Django's full request stack in this process (no server needed)."""

    def __init__(self, token: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        if method == "GET":
            response = self.client.get(path)
        else:
            response = self.client.post(path, body or {}, content_type="application/json")
        if response.get("Content-Type", "").startswith("application/json"):
            return response.status_code, response.json()
        return response.status_code, {"detail": response.content.decode(errors="replace")}


@dataclass
class Shoppers:
    """Hidden tastes and styles, and each shopper's click probability for any work."""

    collectors: list[Collector]
    taste: np.ndarray  # (n_collectors, n_styles)
    style_of: dict[int, np.ndarray]  # artwork id -> (n_styles,)
    threshold: np.ndarray  # (n_collectors,)

    def click_probability(self, shopper: int, artwork_ids) -> np.ndarray:
        styles = np.asarray([self.style_of[a] for a in artwork_ids]).reshape(len(artwork_ids), -1)
        affinity = styles @ self.taste[shopper]
        liking = 1.0 / (1.0 + np.exp(-(affinity - self.threshold[shopper]) / LIKE_TEMPERATURE))
        return CLICK_SCALE * liking


def shoppers_load() -> Shoppers:
    collectors = list(Collector.objects.exclude(hidden_taste=None).order_by("pk"))
    works = list(Artwork.objects.exclude(hidden_style=None).values_list("id", "hidden_style"))
    if not collectors or not works:
        raise ValueError("the simulated shop needs the demo gallery's hidden tastes")
    taste = np.asarray([c.hidden_taste for c in collectors], dtype=np.float64)
    style_of = {pk: np.asarray(s, dtype=np.float64) for pk, s in works}
    styles = np.asarray(list(style_of.values()))
    threshold = (taste @ styles.T).mean(axis=1) + LIKE_MARGIN
    return Shoppers(collectors, taste, style_of, threshold)


@dataclass
class Outcome:
    visits: int = 0
    lists: int = 0
    clicks: int = 0
    purchases: int = 0
    refused: dict[int, int] = field(default_factory=dict)  # status -> count
    # arm -> [expected clicks per list, from the hidden tastes], the simulated truth
    expected: dict[str, list[float]] = field(default_factory=dict)


def shop_simulate(*, shop, visits: int, seed: int, k: int = 10, progress=None) -> Outcome:
    """Replay `visits` seeded visits; every request goes through the API."""
    shoppers = shoppers_load()
    by_external = {a.external_id: a.pk for a in Artwork.objects.only("id", "external_id")}
    rng = np.random.default_rng(seed)
    outcome = Outcome()
    for visit in range(visits):
        shopper = int(rng.integers(len(shoppers.collectors)))
        collector = shoppers.collectors[shopper]
        quoted = urllib.parse.quote(collector.external_id, safe="")
        status, answer = shop.call("GET", f"/api/v1/collectors/{quoted}/recommendations?k={k}")
        outcome.visits += 1
        if status != 200:
            outcome.refused[status] = outcome.refused.get(status, 0) + 1
            continue
        outcome.lists += 1
        shown = [item["work"] for item in answer["items"]]
        ids = [by_external[w] for w in shown if by_external.get(w) in shoppers.style_of]
        p_click = shoppers.click_probability(shopper, ids) if ids else np.zeros(0)
        arm = answer["policy"]["arm"] or answer["policy"]["method"]
        outcome.expected.setdefault(arm, []).append(float(p_click.sum()))
        clicks = rng.random(len(ids)) < p_click
        buys = clicks & (rng.random(len(ids)) < BUY_GIVEN_CLICK)
        for n, work in enumerate(w for w in shown if by_external.get(w) in shoppers.style_of):
            for kind, happened in (("view", clicks[n]), ("purchase", buys[n])):
                if not happened:
                    continue
                status, _ = shop.call(
                    "POST",
                    "/api/v1/events",
                    {
                        "event_id": f"sim-{seed}-{visit}-{n}-{kind}",
                        "kind": kind,
                        "work": work,
                        "collector": collector.external_id,
                        "request_id": answer["request_id"],
                    },
                )
                if status in (200, 201):
                    outcome.clicks += kind == "view"
                    outcome.purchases += kind == "purchase"
                else:  # 409: another shopper bought it first
                    outcome.refused[status] = outcome.refused.get(status, 0) + 1
        if progress is not None:
            progress(visit + 1)
    return outcome


def simulated_truth(*, shoppers: Shoppers, logged, targets) -> float:
    """What the target would have earned, in expected clicks per list, on exactly the
    logged visits: its rebuilt list for each, scored with the shopper's hidden taste."""
    index = {c.pk: i for i, c in enumerate(shoppers.collectors)}
    values = []
    for entry, target in zip(logged.lists, targets, strict=True):
        if len(target) and entry["collector_id"] in index:
            ids = [int(a) for a in target if int(a) in shoppers.style_of]
            values.append(
                float(shoppers.click_probability(index[entry["collector_id"]], ids).sum())
            )
    return float(np.mean(values)) if values else float("nan")
