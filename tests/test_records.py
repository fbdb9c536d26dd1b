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


# --- tuple_record: typing.NamedTuple's class form, without importing typing -----------------

from typing import NamedTuple  # noqa: E402 - the oracle, for these tests only

from byok_cli.records import tuple_record  # noqa: E402


@tuple_record
class OurRow:
    """A row."""

    name: str
    count: int = 0
    tags: tuple = ()

    @property
    def doubled(self) -> int:
        return self.count * 2

    def label(self) -> str:
        return f"{self.name}:{self.count}"


class TheirRow(NamedTuple):
    """A row."""

    name: str
    count: int = 0
    tags: tuple = ()

    @property
    def doubled(self) -> int:
        return self.count * 2

    def label(self) -> str:
        return f"{self.name}:{self.count}"


@pytest.mark.parametrize("args, kwargs", [(("a",), {}), (("a", 2), {}), (("a",), {"count": 3}),
                                          ((), {"name": "b", "tags": (1,)}),
                                          (("a", 1, (2,)), {})])
def test_a_tuple_record_is_what_a_named_tuple_is(args, kwargs):
    import pickle

    ours, theirs = OurRow(*args, **kwargs), TheirRow(*args, **kwargs)
    assert tuple(ours) == tuple(theirs) and ours == theirs  # both plain tuples underneath
    assert repr(ours) == repr(theirs).replace("TheirRow", "OurRow")
    assert ours._fields == theirs._fields == ("name", "count", "tags")
    assert ours._field_defaults == theirs._field_defaults
    assert ours._asdict() == theirs._asdict()
    assert ours._replace(count=9) == theirs._replace(count=9)
    assert OurRow._make(tuple(theirs)) == ours
    assert (ours.doubled, ours.label()) == (theirs.doubled, theirs.label())
    assert hash(ours) == hash(theirs)
    assert pickle.loads(pickle.dumps(ours)) == ours and type(pickle.loads(pickle.dumps(ours))) is OurRow
    assert OurRow.__mro__ == (OurRow, tuple, object)
    assert (OurRow.__doc__, OurRow.__module__, OurRow.__qualname__) == \
        (TheirRow.__doc__, __name__, "OurRow")
    assert list(OurRow.__annotations__) == list(TheirRow.__annotations__)
    with pytest.raises(AttributeError):
        ours.count = 3  # immutable, as a tuple is


@pytest.mark.parametrize("args, kwargs", [((), {}), (("a", 1, (), 4), {}), (("a",), {"nope": 1}),
                                          (("a",), {"name": "b"})])
def test_a_tuple_record_refuses_what_a_named_tuple_refuses(args, kwargs):
    with pytest.raises(TypeError):
        TheirRow(*args, **kwargs)
    with pytest.raises(TypeError):
        OurRow(*args, **kwargs)


def test_a_tuple_record_refuses_the_bodies_a_named_tuple_refuses():
    with pytest.raises(TypeError):
        @tuple_record
        class Unordered:
            first: int = 0
            second: int

    with pytest.raises(AttributeError):
        @tuple_record
        class OwnNew:
            name: str

            def _replace(self, **changes):
                return self


# tuple_record builds the class itself (namedtuple would compile each __new__ from source):
# what it builds must behave as collections.namedtuple's, error messages included.
_Theirs = __import__("collections").namedtuple("OurRow", ["name", "count", "tags"],
                                                defaults=[0, ()])


@pytest.mark.parametrize("make", [
    lambda C: C(), lambda C: C("a", 1, (), 4), lambda C: C("a", nope=1),
    lambda C: C("a", name="b"), lambda C: C._make(["a"]), lambda C: C("a")._replace(nope=1),
    lambda C: str(__import__("inspect").signature(C)), lambda C: C.__new__.__doc__,
    lambda C: [C.__dict__[f].__doc__ for f in C._fields], lambda C: C.__match_args__,
    lambda C: C.__slots__, lambda C: C("a", count=2)._replace(tags=(1,)),
    lambda C: C._make(iter(["a", 1, ()])), lambda C: C.__getnewargs__(C("a"))])
def test_a_tuple_record_behaves_as_collections_namedtuple_does(make):
    def outcome(cls):
        try:
            return make(cls)
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)
    ours, theirs = outcome(OurRow), outcome(_Theirs)
    assert ours == theirs and type(ours) in (type(theirs), OurRow)


def test_tuple_records_of_one_field_and_of_none():
    @tuple_record
    class One:
        value: int

    @tuple_record
    class Empty:
        pass

    assert (One(3), One(value=4), One._make([5])) == ((3,), (4,), (5,))
    assert repr(One(3)) == "One(value=3)" and Empty() == () and repr(Empty()) == "Empty()"
