"""Walking annotations: the (tag, type) members behind a field, through Annotated and Optional."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Tag

from reprdyn.spec.annotations import is_model, members, strip


class A(BaseModel):
    kind: Literal["a"]


class B(BaseModel):
    kind: Literal["b"]


def test_members_of_a_tagged_optional_union():
    tp = Annotated[A | Annotated[B, Tag("bee")] | None, "doc"]
    assert members(tp) == [("a", A), ("bee", B), (None, type(None))]


def test_a_lone_type_is_a_one_member_union():
    assert members(int) == [(None, int)] and members(A) == [("a", A)]


def test_strip_and_is_model():
    assert strip(Annotated[Annotated[int, "x"], "y"]) is int
    assert is_model(A) and not is_model(int) and not is_model(A(kind="a"))
