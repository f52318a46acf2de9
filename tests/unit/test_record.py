"""``record.frozen`` behaves as ``dataclass(frozen=True)`` does, only cheaper to create."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from venvsel.record import frozen


@dataclass(frozen=True)
class Plain:
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@frozen
class Cheap:
    name: str
    size: int = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@frozen
class Own:
    value: int

    def __repr__(self) -> str:
        return "mine"


CASES = [("a", 1, ("x",), "n1", "s1"), ("a", 1, ("x",), "n2", "s1"), ("b", 2, (), "", ""),
         ("a", 1, ("x",), "n1", "s2")]


@pytest.mark.parametrize("one", CASES)
@pytest.mark.parametrize("two", CASES)
def test_the_same_repr_eq_and_hash_as_a_frozen_dataclass(one: tuple, two: tuple) -> None:  # type: ignore[type-arg]
    p1, p2, c1, c2 = Plain(*one), Plain(*two), Cheap(*one), Cheap(*two)
    assert repr(c1) == repr(p1).replace("Plain", "Cheap")
    assert (c1 == c2) == (p1 == p2)
    assert (c1 != c2) == (p1 != p2)
    assert (hash(c1) == hash(c2)) == (hash(p1) == hash(p2))
    assert hash(c1) == hash(p1)  # the same tuple of fields
    assert c1 != p1  # another class is never equal, as with dataclasses


def test_a_dataclass_in_every_other_way() -> None:
    c = Cheap("a", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.size = 2  # type: ignore[misc]
    assert dataclasses.is_dataclass(c)
    assert [f.name for f in dataclasses.fields(c)] == ["name", "size", "tags", "note", "secret"]
    assert dataclasses.replace(c, size=3) == Cheap("a", 3)
    assert dataclasses.asdict(c) == {"name": "a", "size": 1, "tags": (), "note": "",
                                     "secret": ""}
    assert {Cheap("a"), Cheap("a"), Cheap("b")} == {Cheap("a"), Cheap("b")}
    assert (Cheap("a") == "a") is False


def test_a_method_the_class_writes_itself_is_kept() -> None:
    assert repr(Own(1)) == "mine"
    assert Own(1) == Own(1) and hash(Own(1)) == hash(Own(1))
