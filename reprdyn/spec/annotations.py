"""Walking pydantic annotations: the members of (tagged) unions behind a spec field's type.

The loader uses them to find the field a validation error is about; `compose`
uses them to find path fields while walking the raw YAML tree.
"""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel, Tag


def members(tp) -> list[tuple[object, object]]:
    """Union members of `tp` as (tag, type); a lone type is a one-member union."""
    tp = strip(tp)
    args = (
        typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    )
    out = []
    for arg in args:
        tag = None
        if typing.get_origin(arg) is typing.Annotated:
            tag = next((m.tag for m in typing.get_args(arg)[1:] if isinstance(m, Tag)), None)
        arg = strip(arg)
        # Optional[Union[...]]: flatten
        if typing.get_origin(arg) in (typing.Union, types.UnionType):
            out += members(arg)
            continue
        if tag is None and is_model(arg) and "kind" in arg.model_fields:
            tag = typing.get_args(arg.model_fields["kind"].annotation)[0]
        out.append((tag, arg))
    return out


def strip(tp):
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)
