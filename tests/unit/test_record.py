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


CALLS: list[tuple[tuple, dict]] = [  # type: ignore[type-arg]
    (("a",), {}), (("a", 1), {}), (("a", 1, ("x",), "n", "s"), {}), ((), {"name": "a"}),
    (("a",), {"secret": "s", "size": 2}), ((), {"tags": (), "name": "b", "note": "n"}),
    # each of these is a TypeError from the generated __init__ too
    ((), {}), (("a", 1, (), "n", "s", "extra"), {}), (("a",), {"name": "b"}),
    (("a",), {"colour": "red"}), ((), {"size": 1}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_init_takes_what_the_generated_init_takes(args: tuple, kwargs: dict) -> None:  # type: ignore[type-arg]
    try:
        want = Plain(*args, **kwargs)
    except TypeError:
        with pytest.raises(TypeError, match=r"Cheap\.__init__\(\)"):
            Cheap(*args, **kwargs)
        return
    got = Cheap(*args, **kwargs)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert list(vars(got)) == list(vars(want))  # the fields in order, however they came


def test_the_error_names_what_is_missing() -> None:
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'name'"):
        Cheap(size=1)  # type: ignore[call-arg]


@frozen
class Checked:
    low: int
    high: int = 10
    seen: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low > high")


def test_default_factories_and_post_init_run() -> None:
    assert Checked(1).seen == () and Checked(1, 2, (3,)).seen == (3,)
    with pytest.raises(ValueError, match="low > high"):
        Checked(11)
    with pytest.raises(ValueError, match="low > high"):
        Checked(5, 4, ())  # the positional fast path runs it too


def test_frozen_against_delete_and_says_so_to_introspection() -> None:
    c = Cheap("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        del c.name  # type: ignore[misc]
    assert c.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen"):
        @dataclass
        class Child(Cheap):
            extra: int = 0


def test_what_the_shared_init_cannot_do_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="init=False"):
        @frozen
        class Hidden:
            shown: int
            hidden: int = field(default=0, init=False)
