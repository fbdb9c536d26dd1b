"""Plain record classes for the hot path, without `typing` or `dataclasses`.

`@tuple_record` makes a class body with annotated fields a named tuple, exactly as subclassing
``typing.NamedTuple`` does (``collections.namedtuple`` with the fields in annotation order,
defaults from the class body, the body's methods, properties and docstring set on it), but
without importing ``typing``: about 3.5 ms of every reading command's start, and half the
cost per class (no ``typing`` metaclass). It is built here rather than by namedtuple, which
compiles each class's ``__new__`` from source (``eval``: most of the ~1.5 ms the ~30 records
on `byok run`'s path cost): one ``__new__`` is compiled per number of fields and given each
class's field names, and the other methods are shared by every record.

`@record` gives a class an ``__init__`` (fields in
the order they are annotated, positional or by keyword, defaults from the class body),
``__eq__`` and ``__repr__``, as ``@dataclass`` does for these uses; its fields' names are
in ``__record_fields__``.

Why not dataclasses: importing it imports ``inspect`` (and ``ast``, ``dis``, ``tokenize``),
about 8 ms of `byok run`'s start-up that nothing else in it needs. A field whose default
is ``fresh(list)`` gets a new list per instance (dataclasses' ``field(default_factory=…)``).
"""

from __future__ import annotations

import sys

try:
    from _collections import _tuplegetter  # what namedtuple's fields are made of
except ImportError:  # another Python: the equivalent property
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> property:
        return property(itemgetter(index), doc=doc)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

# What a NamedTuple body may not set (typing refuses them too), and what a plain class body
# holds without the author writing it.
_REFUSED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields",
                      "_field_defaults", "_make", "_replace", "_asdict", "_source"})
_IMPLICIT = frozenset({"__module__", "__qualname__", "__annotations__", "__dict__",
                       "__weakref__"})


def tuple_record(cls: type) -> type:
    """The named tuple the class body describes (see the module's docstring)."""
    body = cls.__dict__
    names = list(body.get("__annotations__", {}))
    defaults = [body[n] for n in names if n in body]
    if any(n not in body for n in names[len(names) - len(defaults):]):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with")
    if _REFUSED & body.keys():
        raise AttributeError(f"{cls.__name__}: cannot set {sorted(_REFUSED & body.keys())}")
    made = _named_tuple(cls.__name__, tuple(names), tuple(defaults))
    made.__module__ = body.get("__module__")
    made.__qualname__ = cls.__qualname__
    made.__annotations__ = dict(body.get("__annotations__", {}))
    for key, value in body.items():
        if key not in _IMPLICIT and key not in names:
            setattr(made, key, value)
    return made


_FUNCTION = type(tuple_record)
_NEW_BY_COUNT: dict[int, Any] = {}  # one compiled __new__ per number of fields
_NEW_GLOBALS = {"_tuple_new": tuple.__new__, "__builtins__": {}}  # all a __new__ sees


def _named_tuple(name: str, fields: tuple[str, ...], defaults: tuple) -> type:
    """What ``collections.namedtuple(name, fields, defaults=defaults)`` makes."""
    for field in fields:
        if not field.isidentifier() or field.startswith("_") or fields.count(field) > 1:
            raise ValueError(f"{name}: bad or repeated field name {field!r}")
    count = len(fields)
    if count not in _NEW_BY_COUNT:
        args = "".join(f", _{i}" for i in range(count))
        _NEW_BY_COUNT[count] = eval(  # noqa: S307 - byok's own fixed text, no input
            f"lambda _cls{args}: _tuple_new(_cls, ({args[2:]}{',' if count == 1 else ''}))",
            _NEW_GLOBALS)
    code = _NEW_BY_COUNT[count].__code__.replace(
        co_varnames=("_cls", *fields), co_name="__new__", co_qualname=f"{name}.__new__")
    new = _FUNCTION(code, _NEW_GLOBALS, "__new__", defaults or None)
    new.__doc__ = f"Create new instance of {name}({', '.join(fields)})"
    namespace = {"__doc__": f"{name}({', '.join(fields)})", "__slots__": (), "_fields": fields,
                 "_field_defaults": dict(zip(fields[count - len(defaults):], defaults)),
                 "__new__": new, "_make": _make, "_replace": _replace, "__repr__": _repr,
                 "_asdict": _asdict, "__getnewargs__": _getnewargs, "__match_args__": fields}
    for index, field in enumerate(fields):
        namespace[field] = _tuplegetter(index, f"Alias for field number {index}")
    return type(name, (tuple,), namespace)


# The methods namedtuple gives each class, shared here by all of them.
@classmethod  # type: ignore[misc]
def _make(cls, iterable):
    """Make a new record from a sequence or iterable."""
    made = tuple.__new__(cls, iterable)
    if len(made) != len(cls._fields):
        raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(made)}")
    return made


def _replace(self, /, **changes):
    """A new record with the named fields replaced."""
    made = self._make(map(changes.pop, self._fields, self))
    if changes:  # what namedtuple raises: TypeError since Python 3.13, ValueError before
        raise _UNEXPECTED(f"Got unexpected field names: {list(changes)!r}")
    return made


_UNEXPECTED = TypeError if sys.version_info >= (3, 13) else ValueError


def _repr(self) -> str:
    return (f"{self.__class__.__name__}("
            + ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self)) + ")")


def _asdict(self) -> dict:
    """A new dict which maps field names to their values."""
    return dict(zip(self._fields, self))


def _getnewargs(self) -> tuple:
    """The record as a plain tuple (for copy and pickle)."""
    return tuple(self)


class fresh:  # noqa: N801 - used like a function in class bodies
    """A default made anew for each instance: ``items: list = fresh(list)``."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory


def record(cls: type) -> type:
    names = list(cls.__dict__.get("__annotations__", {}))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    for name, value in defaults.items():
        if isinstance(value, fresh):
            delattr(cls, name)  # as dataclasses does, no class attribute for a factory
    required = [n for n in names if n not in defaults]
    if any(names.index(r) > min((names.index(d) for d in defaults), default=len(names))
           for r in required):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, "
                            f"{len(args)} were given")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated "
                                f"argument {name!r}")
            values[name] = value
        for name in names:
            if name in values:
                setattr(self, name, values[name])
            elif name in defaults:
                default = defaults[name]
                setattr(self, name, default.factory() if isinstance(default, fresh)
                        else default)
            else:
                raise TypeError(f"{cls.__name__}() is missing the argument {name!r}")
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{cls.__qualname__}({shown})"

    cls.__init__ = __init__  # type: ignore[misc]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    cls.__repr__ = __repr__  # type: ignore[method-assign]
    cls.__hash__ = None  # type: ignore[assignment] - mutable, compared by value
    cls.__match_args__ = cls.__record_fields__ = tuple(names)
    return cls
