"""``@frozen``: a frozen dataclass that compiles no code when its class is created.

A warm ``pick``/``activate`` runs in shell start-up and creates ~28 record classes. For a
frozen dataclass, ``dataclasses`` writes ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` as source text and compiles each with ``exec``: about
1 ms a class on a loaded machine, and the largest part of importing ``venvsel.model``.
``@frozen`` lets ``dataclasses`` collect the fields only (every method turned off, so it
compiles nothing) and gives every record the same methods, written once here and equal in
behaviour to the generated ones:

- ``__init__``: the fields in order, positional or by keyword, defaults and default
  factories, ``__post_init__`` when the class has one, and a ``TypeError`` like the
  generated one's for a missing, an unexpected or a doubled argument;
- ``__setattr__``/``__delattr__`` raise ``dataclasses.FrozenInstanceError``;
- ``__repr__``, ``__eq__``, ``__hash__``: the same repr text, equality only between instances
  of the same class comparing the fields that ``compare``, a hash of those fields.

Everything else is a plain dataclass: ``dataclasses.fields``, ``replace``, ``asdict`` and
``is_dataclass`` work as ever, and ``__dataclass_params__`` says frozen. A method the class
writes itself is kept. ``field(init=False)`` and ``kw_only`` are refused: no record needs
them, and the shared ``__init__`` does not do them.
Measured (``python`` 3.11, a 2-core machine, 200 classes of 6 fields): 0.86 → 0.13 ms to
create a class; an instance 2.2 → 2.5 µs from positional arguments, 3.1 → 4.7 µs by
keyword. The warm path's figures are in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Any:
        return lambda f: f

_T = TypeVar("_T")
_MISSING: Any = dataclasses.MISSING


class _Spec:
    """What the shared ``__init__`` needs of a class, worked out once when it is created."""

    __slots__ = ("defaults", "factories", "known", "names", "post_init", "required")

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        for f in fields:
            if not f.init or getattr(f, "kw_only", False) is True:
                raise TypeError(f"@frozen {cls.__qualname__}.{f.name}: init=False and "
                                "kw_only fields are not supported; use @dataclass(frozen=True)")
        self.names = tuple(f.name for f in fields)
        self.known = frozenset(self.names)
        self.defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
        self.factories: dict[str, Callable[[], Any]] = {
            f.name: f.default_factory for f in fields  # type: ignore[misc]
            if f.default_factory is not _MISSING}
        self.required = tuple(n for n in self.names
                              if n not in self.defaults and n not in self.factories)
        self.post_init = getattr(cls, "__post_init__", None)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = self.__class__
    spec: _Spec = cls.__frozen_spec__
    names = spec.names
    if not kwargs and len(args) == len(names):  # every field, in order: the common case
        self.__dict__.update(zip(names, args))
        if spec.post_init is not None:
            spec.post_init(self)
        return
    if len(args) > len(names):
        raise TypeError(f"{cls.__qualname__}.__init__() takes {len(names) + 1} positional "
                        f"arguments but {len(args) + 1} were given")
    given = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in spec.known:
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword "
                            f"argument '{name}'")
        if name in given:
            raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for "
                            f"argument '{name}'")
        given[name] = value
    state = self.__dict__  # what object.__setattr__ would fill, in field order
    for name in names:
        if name in given:
            state[name] = given[name]
        elif name in spec.defaults:
            state[name] = spec.defaults[name]
        elif name in spec.factories:
            state[name] = spec.factories[name]()
        else:
            missing = [n for n in spec.required if n not in given]
            raise TypeError(f"{cls.__qualname__}.__init__() missing {len(missing)} required "
                            f"positional argument{'s' if len(missing) > 1 else ''}: "
                            + " and ".join(repr(n) for n in missing))
    if spec.post_init is not None:
        spec.post_init(self)


def _setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                      for f in dataclasses.fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _compared(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.compare)


def _eq(self: Any, other: object) -> Any:  # bool, or NotImplemented for another class
    if other.__class__ is self.__class__:
        return _compared(self) == _compared(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)
                      if (f.compare if f.hash is None else f.hash)))


_METHODS = (("__init__", _init), ("__repr__", _repr), ("__eq__", _eq), ("__hash__", _hash),
            ("__setattr__", _setattr), ("__delattr__", _delattr))


@dataclass_transform(frozen_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True)``, with the shared methods (see the module doc)."""
    own = set(cls.__dict__)  # methods the class writes itself are kept, as dataclass keeps them
    if "__slots__" in own:
        raise TypeError(f"@frozen {cls.__qualname__}: __slots__ is not supported")
    made = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)  # fields only
    setattr(made, "__frozen_spec__", _Spec(made))  # noqa: B010 (a dunder mypy cannot see)
    for name, method in _METHODS:
        if name not in own:
            setattr(made, name, method)
    params = made.__dataclass_params__  # type: ignore[attr-defined]
    for name in ("init", "repr", "eq", "frozen"):  # what the class does, for introspection
        setattr(params, name, True)
    return made


__all__ = ["frozen"]
