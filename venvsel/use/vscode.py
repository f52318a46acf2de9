"""VS Code's workspace settings: set one top-level string in ``.vscode/settings.json``.

The file is JSON with comments (``//``, ``/* */``) and trailing commas. It is tokenised and
parsed here to find the exact span of each top-level member; the edit replaces only the
key's value, or inserts one member before the closing brace (adding a comma after the last
member when it has none). Comments, order, indentation and line endings stay as they were.
The result is parsed again and must equal the old settings plus the one key; anything this
parser cannot read with certainty is refused with the line and the reason, and nothing is
written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SETTINGS = ".vscode/settings.json"
INTERPRETER_KEY = "python.defaultInterpreterPath"

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"true|false|null")
_PUNCT = "{}[]:,"


class Refusal(Exception):
    """The file cannot be edited safely; the message says where and why."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # one of {}[]:, or "str" or "lit"
    start: int
    end: int


@dataclass(frozen=True)
class _Member:
    key: str
    key_start: int
    value_start: int
    value_end: int
    comma_end: int | None  # end of the comma after the value, when there is one


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = (1 if text.startswith("\ufeff") else 0), len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise Refusal(f"a /* comment is not closed ({_where(text, i)})")
            i = j + 2
        elif c in _PUNCT:
            out.append(_Tok(c, i, i + 1))
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif ord(text[j]) < 0x20:
                    raise Refusal(f"a control character inside a string ({_where(text, j)})")
                j += 1
            if j >= n:
                raise Refusal(f"a string is not closed ({_where(text, i)})")
            out.append(_Tok("str", i, j + 1))
            i = j + 1
        else:
            m = _NUMBER.match(text, i) or _WORD.match(text, i)
            if m is None or (m.end() < n and (text[m.end()].isalnum() or text[m.end()] in "._")):
                raise Refusal(f"unexpected {c!r} ({_where(text, i)})")
            out.append(_Tok("lit", i, m.end()))
            i = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def _peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _take(self, kind: str | None = None) -> _Tok:
        tok = self._peek()
        if tok is None:
            raise Refusal("the file ends in the middle of a value")
        if kind is not None and tok.kind != kind:
            raise Refusal(f"expected {kind!r} but found {self.text[tok.start:tok.end]!r} "
                          f"({_where(self.text, tok.start)})")
        self.pos += 1
        return tok

    def _string(self, tok: _Tok) -> str:
        try:
            value: str = json.loads(self.text[tok.start:tok.end])
        except ValueError as e:
            raise Refusal(f"an invalid string ({_where(self.text, tok.start)}): {e}") from None
        return value

    def value(self) -> Any:
        tok = self._take()
        if tok.kind == "{":
            return dict((k, v) for k, v, _ in self._members(tok))
        if tok.kind == "[":
            items: list[Any] = []
            while True:
                nxt = self._peek()
                if nxt is not None and nxt.kind == "]":
                    self.pos += 1
                    return items
                items.append(self.value())
                sep = self._take()
                if sep.kind == "]":
                    return items
                if sep.kind != ",":
                    raise Refusal(f"expected ',' or ']' ({_where(self.text, sep.start)})")
        if tok.kind == "str":
            return self._string(tok)
        if tok.kind == "lit":
            return json.loads(self.text[tok.start:tok.end])
        raise Refusal(f"unexpected {self.text[tok.start]!r} ({_where(self.text, tok.start)})")

    def _members(self, open_tok: _Tok) -> list[tuple[str, Any, _Member]]:
        out: list[tuple[str, Any, _Member]] = []
        while True:
            nxt = self._peek()
            if nxt is not None and nxt.kind == "}":
                self.pos += 1
                return out
            key_tok = self._take("str")
            key = self._string(key_tok)
            self._take(":")
            start_pos = self.pos
            value = self.value()
            value_start = self.toks[start_pos].start
            value_end = self.toks[self.pos - 1].end
            sep = self._take()
            comma_end = sep.end if sep.kind == "," else None
            out.append((key, value, _Member(key, key_tok.start, value_start, value_end, comma_end)))
            if sep.kind == "}":
                return out
            if sep.kind != ",":
                raise Refusal(f"expected ',' or '}}' ({_where(self.text, sep.start)})")

    def top(self) -> tuple[dict[str, Any], list[_Member], _Tok, _Tok] | None:
        """The top-level object: (value, members, its '{', its '}'); None for an empty file."""
        if not self.toks:
            return None
        open_tok = self._take()
        if open_tok.kind != "{":
            raise Refusal("the settings are not a JSON object")
        triples = self._members(open_tok)
        close_tok = self.toks[self.pos - 1]
        if self._peek() is not None:
            tok = self._peek()
            assert tok is not None
            raise Refusal(f"text after the settings object ({_where(self.text, tok.start)})")
        return dict((k, v) for k, v, _ in triples), [m for _, _, m in triples], open_tok, close_tok


def load(text: str) -> dict[str, Any]:
    """The settings as a dict ({} for an empty or comment-only file); Refusal when unreadable."""
    top = _Parser(text).top()
    return {} if top is None else top[0]


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def set_key(text: str | None, key: str, value: str) -> str:
    """``text`` with the top-level ``key`` set to the string ``value`` (a new file when
    ``text`` is None). Raises Refusal when that cannot be done with certainty."""
    literal = json.dumps(value, ensure_ascii=False)
    member = f"{json.dumps(key, ensure_ascii=False)}: {literal}"
    if text is None:
        return "{\n    " + member + "\n}\n"
    nl = "\r\n" if "\r\n" in text else "\n"
    parser = _Parser(text)
    top = parser.top()
    if top is None:  # empty, or only comments: keep them and add the object after them
        sep = "" if not text.strip() or text.endswith("\n") else nl
        base = text if text.strip() else ""
        new = base + sep + "{" + nl + "    " + member + nl + "}" + nl
    else:
        old, members, open_tok, close_tok = top
        same = [m for m in members if m.key == key]
        if len(same) > 1:
            raise Refusal(f'"{key}" is set more than once')
        if same:
            m = same[0]
            if old[key] == value:
                return text
            new = text[:m.value_start] + literal + text[m.value_end:]
        else:
            new = _insert(text, members, open_tok, close_tok, member, nl)
    expected = dict(load(text))
    expected[key] = value
    if load(new) != expected:  # a bug here must never reach the user's file
        raise Refusal("the edit would change other settings")
    return new


def _insert(text: str, members: list[_Member], open_tok: _Tok, close_tok: _Tok,
            member: str, nl: str) -> str:
    close_line = _line_start(text, close_tok.start)
    close_alone = not text[close_line:close_tok.start].strip()
    if members:
        first = members[0]
        ls = _line_start(text, first.key_start)
        indent = text[ls:first.key_start] if not text[ls:first.key_start].strip() else "    "
        last = members[-1]
        # A comma after the last member's value (JSON with trailing commas needs none added).
        comma = "" if last.comma_end is not None else ","
        anchor = last.value_end
    else:
        indent = "    "
        comma = ""
        anchor = open_tok.end
    if close_alone and close_line > anchor:
        # `}` on its own line: the new member goes on a line of its own just above it.
        return (text[:anchor] + comma + text[anchor:close_line] + indent + member + nl
                + text[close_line:])
    # One-line object (or `}` sharing a line): insert inline after the last member.
    at = members[-1].comma_end if members and members[-1].comma_end is not None else anchor
    glue = " " if members else ""
    return text[:anchor] + comma + text[anchor:at] + glue + member + text[at:]
