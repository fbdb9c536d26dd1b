"""byok_cli.records: the plain record classes `byok run`'s modules use instead of dataclasses
(which import inspect): they construct, default, compare and show as dataclasses do."""

from __future__ import annotations

import dataclasses

import pytest

from byok_cli.records import fresh, record


@record
class Ours:
    name: str
    count: int = 0
    items: list = fresh(list)


@dataclasses.dataclass
class Theirs:
    name: str
    count: int = 0
    items: list = dataclasses.field(default_factory=list)


@pytest.mark.parametrize("args, kwargs", [(("a",), {}), (("a", 2), {}), (("a",), {"count": 3}),
                                          ((), {"name": "b", "items": [1]}),
                                          (("a", 1, [2]), {})])
def test_a_record_is_built_as_a_dataclass_is(args, kwargs):
    ours, theirs = Ours(*args, **kwargs), Theirs(*args, **kwargs)
    assert (ours.name, ours.count, ours.items) == (theirs.name, theirs.count, theirs.items)
    assert repr(ours).replace("Ours", "Theirs") == repr(theirs)
    assert ours == Ours(*args, **kwargs) and ours != Ours("other")
    assert Ours.__record_fields__ == ("name", "count", "items")


@pytest.mark.parametrize("args, kwargs", [((), {}), (("a", 1, [], 4), {}),
                                          (("a",), {"name": "b"}), (("a",), {"nope": 1})])
def test_a_record_refuses_what_a_dataclass_refuses(args, kwargs):
    with pytest.raises(TypeError):
        Theirs(*args, **kwargs)
    with pytest.raises(TypeError):
        Ours(*args, **kwargs)


def test_a_fresh_default_is_new_for_each_record():
    first, second = Ours("a"), Ours("b")
    first.items.append(1)
    assert second.items == [] and not hasattr(Ours, "items")
    with pytest.raises(TypeError):
        hash(first)  # mutable and compared by value, as a dataclass with eq


def test_a_field_without_a_default_may_not_follow_one_with():
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 0
            b: int
