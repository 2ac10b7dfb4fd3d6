"""What the API reads and writes, as pydantic models: the OpenAPI schema is made from these."""

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field


class Explanation(Schema):
    text: str = Field(description="why the work is in the list, in words ('' when unknown)")
    because: str | None = Field(None, description="the consumed work that drove the score")


class Item(Schema):
    work: str = Field(description="the work's external id")
    title: str
    artist: str
    medium: str
    price: float | None
    position: int = Field(description="1 = first")
    score: float | None = Field(description="the model's score; null when shown at random")
    propensity: float | None = Field(
        description="P(this work is in the list) under the serving policy; 1 for a "
        "deterministic ranker, null under interleaving"
    )
    team: str = Field(
        "", description="interleaving only: the ranker that chose it ('a', 'b' or 'both')"
    )
    explanation: Explanation


class Policy(Schema):
    method: str
    job: int | None = Field(description="the training job whose model answered")
    model: str = Field(description="the model, in words")
    served_by: str = Field(description="faiss index, model, exploration or interleaving")
    experiment: int | None = None
    arm: str = ""
    epsilon: float = 0.0
    explored: bool = False


class ListOut(Schema):
    request_id: str = Field(description="send it back with the events this list led to")
    policy: Policy
    items: list[Item]
    note: str = ""


class Problem(Schema):
    detail: str
    field: str = ""


class VisitorIn(Schema):
    works: list[str] = Field(min_length=1, max_length=50, description="works the visitor liked")
    session: str = Field(min_length=1, max_length=100)
    method: str = Field("", max_length=100)
    k: int = Field(20, ge=1, le=100)
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    medium: list[str] = Field(default_factory=list, max_length=20)
    availability: Literal["available", "all"] = "available"


class EventIn(Schema):
    event_id: str = Field(min_length=1, max_length=100, description="the shop's own id")
    kind: Literal["view", "like", "purchase"]
    work: str = Field(min_length=1, max_length=100)
    collector: str = Field("", max_length=100, description="a collector's id, or")
    session: str = Field("", max_length=100, description="an anonymous visitor's session")
    timestamp: datetime | None = Field(None, description="when it happened (default: now)")
    request_id: str = Field("", max_length=64, description="the list it followed from")


class EventOut(Schema):
    event_id: str
    created: bool = Field(description="false: a retry of an event already stored")
    kind: str
    work: str
    request_id: str | None = Field(description="the served list it was joined to")
    position: int | None = None


class WorkOut(Schema):
    work: str
    title: str
    artist: str
    medium: str
    price: float | None
    listed_at: datetime
    sold: bool
    features: Literal["pending", "ready", "failed"] = Field(
        description="pending: a worker is describing the image; the work is recommended once ready"
    )
    features_error: str = ""
