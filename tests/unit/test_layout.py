"""The package's layout: module names that shadow nothing and say what they hold."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import venvsel

PKG = Path(venvsel.__file__).parent


def module_files() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def stdlib_names() -> set[str]:
    """The stdlib's top-level module names: ``sys.stdlib_module_names`` (3.10+), else what
    the running interpreter's stdlib dirs and built-in modules hold (3.9, --lowest)."""
    if sys.version_info >= (3, 10):
        return set(sys.stdlib_module_names)
    stdlib = sysconfig.get_paths()["stdlib"]
    found = pkgutil.iter_modules([stdlib, os.path.join(stdlib, "lib-dynload")])
    return set(sys.builtin_module_names) | {m.name for m in found}


def test_the_stdlib_names_include_those_that_were_shadowed() -> None:
    assert {"select", "inspect", "posix", "cmd", "subprocess"} <= stdlib_names()


def test_no_module_shadows_a_stdlib_module() -> None:
    names = {p.stem if p.stem != "__init__" else p.parent.name for p in module_files()}
    assert sorted(names & stdlib_names()) == []


def test_no_two_modules_share_a_file_name() -> None:
    counts = Counter(p.name for p in module_files() if p.name != "__init__.py")
    assert [name for name, n in counts.items() if n > 1] == []


def test_the_stdlib_still_imports_from_inside_the_package() -> None:
    """The issue that started this: `cd venvsel && python -c 'import subprocess'` failed,
    because a venvsel module shadowed one that subprocess imports."""
    for where in {p.parent for p in module_files()}:
        done = subprocess.run([sys.executable, "-B", "-c", "import subprocess, dataclasses, json"],
                              cwd=where, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (where, done.stderr)


# --------------------------------------------------------------------------- import cycles


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports, from EVERY import statement in its file:
    at the top, inside functions, under ``if TYPE_CHECKING`` alike (a cycle hidden inside a
    function is still a cycle: it only works because of where the import sits)."""
    files = {_module_name(root, p): p for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                for a in node.names:  # `from . import x` imports the module x
                    out.add(f"{name}.{a.name}" if f"{name}.{a.name}" in files else name)
        graph[mod] = {m for m in out if m in files and m != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted,
    with one concrete cycle through its first module appended for the message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _one_cycle(graph: dict[str, set[str]], comp: list[str]) -> str:
    """A readable cycle inside one component: a -> b -> ... -> a (breadth-first)."""
    start, members = comp[0], set(comp)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return " -> ".join([*paths[v], start])
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return " <-> ".join(comp)


def test_the_package_has_no_import_cycle() -> None:
    """Issue 12: no module imports, directly or through others, a module that imports it —
    counting imports inside functions and under TYPE_CHECKING too."""
    graph = import_graph(PKG)
    assert len(graph) > 40 and "venvsel.resolve" in graph  # the walk saw the package
    assert graph["venvsel.resolve"] >= {"venvsel.discover", "venvsel.selection"}
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(_one_cycle(graph, c) for c in found)


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The check above can fail: a planted cycle, one side of it inside a function."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    (pkg / "c.py").write_text("from . import a\n")  # outside the cycle
    graph = import_graph(pkg)
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
    assert _one_cycle(graph, ["pkg.a", "pkg.sub.b"]) == "pkg.a -> pkg.sub.b -> pkg.a"


def _inside_function_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def _says_why(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or right above it (above a run of imports that
    share it)."""
    i = lineno - 1
    if "#" in lines[i]:
        return True
    i -= 1
    while i >= 0 and lines[i].strip().startswith(("import ", "from ")):
        if "#" in lines[i]:
            return True
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#")


def test_an_import_inside_a_function_says_why() -> None:
    """Issue 12: imports sit at the top of the module; one left inside a function must say
    why there (a heavy or optional module, or laziness measured on the warm path). cli.py,
    whose commands each import their own modules, says so once in its docstring."""
    silent = []
    for path in module_files():
        if path == PKG / "cli.py":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        silent += [f"{path.relative_to(PKG.parent)}:{n}: {text}"
                   for n, text in _inside_function_imports(path) if not _says_why(lines, n)]
    assert silent == []
    assert "``venvsel --help`` costs" in (PKG / "cli.py").read_text().split('"""')[1]


def test_the_why_check_sees_a_silent_import(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    import json\n\n\ndef g():\n    import csv  # only for g\n\n\n"
                   "def h():\n    # both: only for h\n    import io\n    import re\n")
    lines = mod.read_text().splitlines()
    assert [(n, _says_why(lines, n)) for n, _ in _inside_function_imports(mod)] == [
        (2, False), (6, True), (11, True), (12, True)]
