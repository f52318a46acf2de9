"""Discovery: find every Python environment on disk, from files alone.

Locators, in the order their envs are listed:

1. project-local, under each ROOT (default: the current directory): the ROOT itself when it
   is an env; children named ``.venv*``, ``venv*``, ``env`` or ``.conda``; any child with
   ``pyvenv.cfg`` or ``conda-meta/``; and the same one level further down (``ROOT/sub/.venv``,
   ``ROOT/.tox/py311``). ``.git``, ``node_modules``, ``__pycache__`` and ``site-packages``
   are never entered.
2. the active env: ``$VIRTUAL_ENV``, ``$CONDA_PREFIX``.
3. global locators (unless ``include_global=False``): conda, pyenv, virtualenvwrapper and
   pipenv, poetry, hatch, uv's ``UV_PROJECT_ENVIRONMENT``, then the config file's extra roots.

Every env is one :class:`~venvsel.model.Env`, keyed by its real path (symlinks resolved), so
a symlinked ``.venv`` and its target are one record, credited to the locator that saw it
first. Broken envs (dangling interpreter link, base Python gone, no interpreter) are returned
with the reason in words, never hidden.

This module runs on the warm ``venvsel activate`` path: it only stats and lists directories
and reads ``pyvenv.cfg``. It never starts a process and imports nothing heavy (where poetry
and hatch keep their envs comes from ``paths.user_dir``, which on Linux needs no platformdirs).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from .errors import UsageError
from .model import Env, EnvKind
from .order import natural_key
from .paths import user_dir

if TYPE_CHECKING:
    from .config import Config

# The config file and the tools' own config files are read only by the global locators, so
# their modules are imported there ("lazy" below): `activate ENV` needs env_from_path alone,
# and importing them at the top cost it ~4 ms (`python -X importtime`, warm).

# Directories never entered while looking for project-local envs: big, and never envs.
_SKIP = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", "site-packages",
     ".mypy_cache", ".ruff_cache", ".pytest_cache"}
)
# Known conda installs under $HOME and system-wide; each is a base env with envs/ below it.
_CONDA_HOME_INSTALLS = (
    "miniconda3", "miniconda", "anaconda3", "anaconda", "miniforge3", "mambaforge",
    "micromamba", ".miniconda3", ".anaconda3",
)
_CONDA_SYSTEM_INSTALLS = ("/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/opt/miniforge3")

_WINDOWS_HOST = os.name == "nt"
_INTERPRETER_MARKS = (
    ("bin", "python"), ("bin", "python3"), ("Scripts", "python.exe"), ("python.exe",),
)

# --------------------------------------------------------------------------- small fs helpers


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _lexists(path: str) -> bool:
    """True for a dangling symlink too: a broken interpreter is still an interpreter entry."""
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def _child_dirs(path: str, realpath: RealPaths | None = None) -> list[tuple[str, str]]:
    """(name, path) of the sub-directories of ``path`` (links followed), sorted; [] on error.

    With ``realpath``, the real path of each child that is not a link is noted there (it is
    the parent's real path and the name: no lstat needed later)."""
    out: list[tuple[str, str]] = []
    note = None
    if realpath is not None and not _WINDOWS_HOST and ".." not in path:
        note = (realpath, os.path.abspath(path), realpath(path))
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    if entry.is_dir():
                        out.append((entry.name, entry.path))
                        if note is not None and not entry.is_symlink():
                            memo, parent, real = note
                            memo.known(os.path.join(parent, entry.name),
                                       os.path.join(real, entry.name))
                except OSError:  # a symlink loop (ELOOP) or a vanished entry
                    continue
    except OSError:
        return []
    out.sort(key=lambda c: natural_key(c[0]))  # the one listing order (venvsel/order.py)
    return out


class RealPaths:
    """``os.path.realpath`` with memory, for one discovery or one command.

    ``os.path.realpath`` lstat()s every component of every path it is given; a scan of 1,000
    ``ROOT/pN/.venv`` envs asked it about the same parent directories thousands of times (1 s
    of a 4 s scan). This resolves each directory once and then lstat()s only the last
    component; a symlink, a ``..`` or a Windows path goes to ``os.path.realpath`` itself, so
    the answers are the same. Keep an instance only as long as the tree cannot change under
    it (one scan); a fresh instance sees the disk anew.
    """

    def __init__(self) -> None:
        self._memo: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if _WINDOWS_HOST or ".." in path:
            return os.path.realpath(path)
        return self._resolve(os.path.abspath(path))

    def _resolve(self, path: str, depth: int = 0) -> str:
        hit = self._memo.get(path)
        if hit is not None:
            return hit
        parent, name = os.path.split(path)
        if not name:  # "/"
            return path
        base = self._resolve(parent, depth)
        full = base + name if base.endswith(os.sep) else base + os.sep + name
        try:
            link = stat.S_ISLNK(os.lstat(full).st_mode)
        except (OSError, ValueError):
            link = False  # missing: kept as written, as realpath does
        real = full
        if link:
            try:
                target = os.readlink(full)
            except OSError:
                target = ".."  # let realpath itself say what this is
            if depth < 40 and ".." not in target:
                real = self._resolve(os.path.abspath(os.path.join(base, target)), depth + 1)
            else:
                real = os.path.realpath(full)
        self._memo[path] = real
        return real

    def known(self, path: str, real: str) -> None:
        """Remember that ``path`` (absolute, normalised) resolves to ``real``."""
        self._memo.setdefault(path, real)


def read_pyvenv_cfg(env_dir: str) -> dict[str, str] | None:
    """``pyvenv.cfg`` as CPython's site.py reads it (keys lower-cased); None when absent.

    An unreadable file gives ``{}``: the env is still a venv, just one we know less about.
    """
    cfg_path = os.path.join(env_dir, "pyvenv.cfg")
    try:
        with open(cfg_path, "rb") as f:
            raw = f.read(64 * 1024)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {} if _lexists(cfg_path) else None
    cfg: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


# --------------------------------------------------------------------------- one env's layout


def _windows_layout(path: str) -> bool:
    # Recognised from the files, whatever the host OS. Not from "Lib/" alone: on a
    # case-insensitive disk (macOS) a POSIX env's lib/ answers to Lib/ too.
    return (
        _lexists(os.path.join(path, "Scripts", "python.exe"))
        or _lexists(os.path.join(path, "python.exe"))  # conda on Windows: at the prefix root
        or (_is_dir(os.path.join(path, "Scripts")) and not _is_dir(os.path.join(path, "bin")))
    )


def _find_interpreter(path: str, windows: bool) -> str | None:
    if windows:
        for rel in (("Scripts", "python.exe"), ("python.exe",)):
            p = os.path.join(path, *rel)
            if _lexists(p):
                return p
        return None
    bin_dir = os.path.join(path, "bin")
    for name in ("python", "python3"):
        p = os.path.join(bin_dir, name)
        if _lexists(p):
            return p
    # Envs that only carry versioned names (python3.12, python2.7, pypy3).
    try:
        names = sorted(os.listdir(bin_dir), reverse=True)
    except OSError:
        return None
    for name in names:
        if name.startswith(("python", "pypy")) and not name.endswith(("-config", ".py")):
            tail = name.removeprefix("python")
            if name.startswith("pypy") or not tail or tail[0].isdigit():
                return os.path.join(bin_dir, name)
    return None


def find_site_packages(path: str, layout: str) -> tuple[str, ...]:
    """The env's own site-packages dirs (lib/pythonX.Y/site-packages, Lib/site-packages)."""
    found: list[str] = []
    if layout == "windows":
        candidates = [os.path.join(path, "Lib", "site-packages")]
    else:
        candidates = []
        for lib in ("lib", "lib64"):
            lib_dir = os.path.join(path, lib)
            try:
                names = sorted(os.listdir(lib_dir))
            except OSError:
                continue
            candidates.extend(
                os.path.join(lib_dir, n, "site-packages")
                for n in names
                if n.startswith(("python", "pypy"))
            )
        candidates.append(os.path.join(path, "site-packages"))  # PyPy < 3.8 venvs
    seen: set[tuple[int, int]] = set()
    for sp in candidates:
        try:
            st = os.stat(sp)
        except (OSError, ValueError):
            continue
        # lib64 -> lib in most venvs: one dir (same device and inode), listed once
        ident = (st.st_dev, st.st_ino) if st.st_ino else (-1, len(found))
        if stat.S_ISDIR(st.st_mode) and ident not in seen:
            seen.add(ident)
            found.append(sp)
    return tuple(found)


def _dangling(link: str) -> str | None:
    """The missing target at the end of a symlink chain, "" for a loop, None if it resolves."""
    if os.path.exists(link):
        return None
    cur = link
    for _ in range(40):
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            return os.path.normpath(cur)
        except (OSError, ValueError):
            return None
        if not stat.S_ISLNK(st.st_mode):
            return None
        try:
            target = os.readlink(cur)
        except OSError:
            return None
        cur = os.path.join(os.path.dirname(cur), target)
    return ""


def _broken_reason(
    path: str, windows: bool, interpreter: str | None, cfg: dict[str, str] | None
) -> str | None:
    if interpreter is None:
        where = os.path.join("Scripts", "python.exe") if windows else os.path.join("bin", "python")
        return f"no Python interpreter: {where} does not exist"
    target = _dangling(interpreter)
    if target == "":
        return f"{os.path.relpath(interpreter, path)} is a symlink loop"
    if target is not None:
        return f"{os.path.relpath(interpreter, path)} points to {target}, which no longer exists"
    if cfg is not None:
        home = cfg.get("home", "")
        if not home:
            return "pyvenv.cfg has no 'home' line, so Python ignores it and will not use this env"
        # A Windows tree read on a POSIX host (or the reverse) names a base we cannot check.
        if windows == _WINDOWS_HOST and not _is_dir(home):
            return f"base Python at {home} is gone"
    return None


_MANAGER_KINDS: tuple[EnvKind, ...] = ("poetry", "pipenv", "hatch", "pdm")


def _kind(cfg: dict[str, str] | None, conda: bool, hint: str | None) -> EnvKind:
    for manager in _MANAGER_KINDS:
        if hint == manager:
            return manager
    if conda:
        return "conda"
    if cfg is not None:
        if "uv" in cfg:
            return "uv"
        if "virtualenv" in cfg:
            return "virtualenv"
        return "venv"
    if hint == "pyenv":
        return "pyenv"
    return "unknown"


def looks_like_env(path: str, *, interpreter_is_enough: bool = True) -> bool:
    """THE rule for "this dir is a Python env": a pyvenv.cfg or a conda-meta dir, or (unless
    ``interpreter_is_enough`` is False: a dir whose name says nothing) an interpreter where an
    env keeps it. Discovery, the project's tool envs and `use --link` all ask this."""
    if _lexists(os.path.join(path, "pyvenv.cfg")) or _is_dir(os.path.join(path, "conda-meta")):
        return True
    if not interpreter_is_enough:
        return False
    return any(_lexists(os.path.join(path, *rel)) for rel in _INTERPRETER_MARKS)


def _shown_path(path: str, cwd: str, real: str | None = None) -> str:
    """Relative to cwd when under it (".venv", "sub/.venv"), else absolute."""
    prefix = cwd if cwd.endswith(os.sep) else cwd + os.sep
    ap = os.path.abspath(path)
    for cand in (ap, real or os.path.realpath(ap)):
        if cand == cwd:
            return "."
        if cand.startswith(prefix):
            return cand[len(prefix):]
    return ap


def _active_paths() -> set[str]:
    out = set()
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = os.environ.get(var)
        if value:
            out.add(os.path.realpath(value))
    return out


def _make_env(
    path: str, source: str, hint: str | None, *, cwd: str, active: set[str],
    realpath: Callable[[str], str] = os.path.realpath,
) -> Env:
    real = realpath(path)
    cfg = read_pyvenv_cfg(real)
    windows = _windows_layout(real)
    layout: Literal["posix", "windows"] = "windows" if windows else "posix"
    interpreter = _find_interpreter(real, windows)
    return Env(
        path=real,
        kind=_kind(cfg, _is_dir(os.path.join(real, "conda-meta")), hint),
        source=source,
        layout=layout,
        interpreter=interpreter,
        site_packages=find_site_packages(real, layout),
        broken=_broken_reason(real, windows, interpreter, cfg),
        active=real in active,
        shown_path=_shown_path(path, cwd, real),
    )


# --------------------------------------------------------------------------- locators


class _Found:
    """The envs found so far, one per real path, in the order they were found."""

    def __init__(self, realpath: RealPaths | None = None) -> None:
        self.cwd = os.getcwd()
        self.active = _active_paths()
        self.envs: list[Env] = []
        self.reals: set[str] = set()
        self.realpath = realpath if realpath is not None else RealPaths()

    def add(self, path: str, source: str, hint: str | None = None) -> None:
        real = self.realpath(path)
        if real in self.reals:
            return
        self.reals.add(real)
        if hint is None:
            # Found in a project dir, as the active env or through a link: it still carries
            # the label of the manager whose dir it lives in (a poetry env stays "poetry").
            managed_source, managed = _hint_for(real, self.realpath)
            if managed is not None:
                source, hint = managed_source, managed
        self.envs.append(_make_env(path, source, hint, cwd=self.cwd, active=self.active,
                                   realpath=self.realpath))

    def add_children(self, parent: str, source: str, hint: str | None = None) -> None:
        """Every direct child of ``parent`` that is an env (an env manager's envs dir)."""
        for _, child in _child_dirs(parent):
            if looks_like_env(child, interpreter_is_enough=True):
                self.add(child, source, hint)


def _named_like_env(name: str) -> bool:
    return name.startswith((".venv", "venv")) or name in ("env", ".conda")


def _project_candidate(name: str, path: str) -> bool:
    if _named_like_env(name):
        return looks_like_env(path, interpreter_is_enough=True)
    return looks_like_env(path, interpreter_is_enough=False)


def _check_root(root: str) -> str:
    path = os.path.expanduser(root)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{root} does not exist", hint="Give a directory to scan.") from None
    except OSError as e:
        raise UsageError(f"{root} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{root} is not a directory", hint="Give a directory to scan.")
    try:
        with os.scandir(path) as it:
            next(it, None)
    except OSError as e:
        raise UsageError(f"{root} cannot be read: {e.strerror or e}") from None
    # Absolute, so children's paths need no getcwd() each; ".." is left to the kernel.
    return path if ".." in path else os.path.abspath(path)


def _scan_root(found: _Found, root: str, source: str) -> None:
    """Project-local rules under one ROOT; envs of this root listed sorted by relative path."""
    # The root itself must carry a real marker: "/" or "/usr" has a bin/python, yet is no env.
    if looks_like_env(root, interpreter_is_enough=False):
        found.add(root, source)
        return
    hits: list[tuple[tuple[str, ...], str]] = []
    # Real paths of dirs already listed: a link back up (loop) or to a sibling is listed once.
    listed = {found.realpath(root)}
    for name, child in _child_dirs(root, found.realpath):
        if name in _SKIP:
            continue
        if _project_candidate(name, child):
            hits.append(((name,), child))
            continue
        real = found.realpath(child)
        if real in listed:
            continue
        listed.add(real)
        for sub_name, sub in _child_dirs(child, found.realpath):
            if sub_name not in _SKIP and _project_candidate(sub_name, sub):
                hits.append(((name, sub_name), sub))
    for _, path in sorted(hits, key=lambda h: tuple(natural_key(n) for n in h[0])):
        found.add(path, source)


def _home(*parts: str) -> str:
    return os.path.join(os.path.expanduser("~"), *parts)


def _env_list(var: str) -> list[str]:
    return [os.path.expanduser(p) for p in os.environ.get(var, "").split(os.pathsep) if p]


def _conda(found: _Found) -> None:
    try:
        with open(_home(".conda", "environments.txt"), encoding="utf-8", errors="replace") as f:
            listed = [line.strip() for line in f]
    except OSError:
        listed = []
    for prefix in listed:
        # conda leaves deleted envs in this file; an absent dir is not an env any more.
        if prefix and not prefix.startswith("#") and _is_dir(prefix):
            found.add(prefix, "conda")
    installs: list[str] = []
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        exe = os.environ.get(var)
        if exe:  # <install>/bin/conda or <install>\Scripts\conda.exe
            installs.append(os.path.dirname(os.path.dirname(exe)))
    for var in ("CONDA_ROOT", "MAMBA_ROOT_PREFIX"):
        if os.environ.get(var):
            installs.append(os.path.expanduser(os.environ[var]))
    installs += [_home(n) for n in _CONDA_HOME_INSTALLS]
    installs += list(_CONDA_SYSTEM_INSTALLS)
    for install in installs:
        if _is_dir(os.path.join(install, "conda-meta")):
            found.add(install, "conda")
        envs_dir = os.path.join(install, "envs")
        if _is_dir(envs_dir):
            found.add_children(envs_dir, "conda")
    for envs_dir in [*_env_list("CONDA_ENVS_PATH"), *_env_list("CONDA_ENVS_DIRS"),
                     _home(".conda", "envs")]:
        found.add_children(envs_dir, "conda")


def pyenv_versions_dir() -> str:
    root = os.environ.get("PYENV_ROOT") or _home(".pyenv")
    return os.path.join(os.path.expanduser(root), "versions")


def _pyenv(found: _Found) -> None:
    for _, version in _child_dirs(pyenv_versions_dir()):  # 3.9 before 3.10
        if looks_like_env(version, interpreter_is_enough=True):
            found.add(version, "pyenv", "pyenv")
        # pyenv-virtualenv keeps its envs in versions/<base>/envs/<name> (and links
        # versions/<name> to them, which the real-path check folds into one record).
        envs_dir = os.path.join(version, "envs")
        if _is_dir(envs_dir):
            found.add_children(envs_dir, "pyenv", "pyenv")


def _looks_like_pipenv(path: str) -> bool:
    # pipenv names its envs <project>-<8-char hash> and writes the project dir to .project.
    name = os.path.basename(path)
    stem, dash, tail = name.rpartition("-")
    return bool(stem and dash and len(tail) == 8) and _is_file(os.path.join(path, ".project"))


def _pipenv_dir() -> str:
    data = os.environ.get("XDG_DATA_HOME") or _home(".local", "share")
    return os.path.join(data, "virtualenvs")


def _workon(found: _Found) -> None:
    for workon in [*_env_list("WORKON_HOME"), _home(".virtualenvs")]:
        for _, child in _child_dirs(workon):
            if looks_like_env(child, interpreter_is_enough=True):
                found.add(child, "workon", "pipenv" if _looks_like_pipenv(child) else None)
    for pipenv_dir in dict.fromkeys((_pipenv_dir(), _home(".local", "share", "virtualenvs"))):
        found.add_children(pipenv_dir, "pipenv", "pipenv")


def _poetry_dirs() -> list[str]:
    dirs = _env_list("POETRY_VIRTUALENVS_PATH")
    cache = os.environ.get("POETRY_CACHE_DIR")
    if not cache:
        cache = user_dir("cache", "pypoetry")
    dirs.append(os.path.join(os.path.expanduser(cache), "virtualenvs"))
    # virtualenvs.path / cache-dir set in poetry's own config.toml (`poetry config`)
    from .tooldirs import poetry_virtualenvs_path  # lazy: see the imports

    configured = poetry_virtualenvs_path(None)
    return list(dict.fromkeys([*dirs, configured]))


def _hatch_dir() -> str:
    from .tooldirs import hatch_virtual_dir  # lazy: see the imports

    return hatch_virtual_dir()


def _pdm_dir() -> str:
    from .tooldirs import pdm_venvs_dir  # lazy: see the imports

    return pdm_venvs_dir()


def _poetry(found: _Found) -> None:
    for d in _poetry_dirs():
        found.add_children(d, "poetry", "poetry")


def _pdm(found: _Found) -> None:
    # pdm's named envs: <venv.location>/<project>-<hash>-<name> (`pdm venv create`)
    found.add_children(_pdm_dir(), "pdm", "pdm")


def _hatch(found: _Found) -> None:
    # <data>/env/virtual/<project>/<id>/<env> (and <project>/<env> in some versions):
    # walk at most three levels, stopping at the first env on each branch.
    def walk(path: str, depth: int) -> None:
        for _, child in _child_dirs(path):
            if looks_like_env(child, interpreter_is_enough=True):
                found.add(child, "hatch", "hatch")
            elif depth < 3:
                walk(child, depth + 1)

    walk(_hatch_dir(), 1)


def _uv(found: _Found) -> None:
    value = os.environ.get("UV_PROJECT_ENVIRONMENT")
    if value:
        path = os.path.abspath(os.path.expanduser(value))
        if looks_like_env(path, interpreter_is_enough=True):
            found.add(path, "uv")


def _active(found: _Found) -> None:
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = os.environ.get(var)
        if not value:
            continue
        if _is_dir(value):
            found.add(value, "active")
            continue
        real = os.path.realpath(value)
        if real not in found.reals:  # the shell still points at an env that was deleted
            found.reals.add(real)
            found.envs.append(Env(
                path=real, kind="unknown", source="active", active=True,
                broken=f"${var} is {value}, which no longer exists",
                shown_path=_shown_path(value, found.cwd),
            ))


# --------------------------------------------------------------------------- public API


def discover(
    roots: Sequence[str] | None = None,
    *,
    include_global: bool = True,
    config: Config | None = None,
    realpath: RealPaths | None = None,
) -> list[Env]:
    """Every env under ``roots`` (default: the current directory), the active one and,
    unless ``include_global`` is False, those the env managers know about. ``realpath``
    shares what was resolved with the caller (a scanner fingerprinting the same envs).

    Raises :class:`UsageError` (exit 2) when a ROOT does not exist or cannot be read.
    Extra roots from the config file that do not exist are skipped: a stale line there
    should not break every ``venvsel activate``.
    """
    checked = [_check_root(r) for r in (roots if roots else [os.curdir])]
    found = _Found(realpath)
    for root in checked:
        _scan_root(found, root, "project")
    _active(found)
    if include_global:
        if config is None:
            from .config import load_config  # lazy: see the imports

            config = load_config()
        for locator in (_conda, _pyenv, _workon, _poetry, _hatch, _pdm, _uv):
            locator(found)
        for extra in config.extra_roots:
            if _is_dir(extra):
                _scan_root(found, extra, "config")
    return found.envs


def _under(path: str, parents: Iterable[str],
           realpath: Callable[[str], str] = os.path.realpath) -> bool:
    for parent in parents:
        real = realpath(parent)
        if path.startswith(real.rstrip(os.sep) + os.sep):
            return True
    return False


def _hint_for(
    real: str, realpath: Callable[[str], str] = os.path.realpath
) -> tuple[str, str | None]:
    """(source, kind hint) for an env named on the command line, as a locator would see it.
    ``realpath``: a memo shared with the caller (the same parents, asked for every env)."""
    if _under(real, [pyenv_versions_dir()], realpath):
        return "pyenv", "pyenv"
    workon = [*_env_list("WORKON_HOME"), _home(".virtualenvs")]
    if _under(real, [_pipenv_dir(), _home(".local", "share", "virtualenvs")], realpath) or (
        _looks_like_pipenv(real) and _under(real, workon, realpath)
    ):
        return "pipenv", "pipenv"
    # Only look where poetry and hatch live when the path could be theirs.
    lowered = real.lower()
    poetry_env = "POETRY_VIRTUALENVS_PATH" in os.environ or "POETRY_CACHE_DIR" in os.environ
    if (poetry_env or "pypoetry" in lowered) and _under(real, _poetry_dirs(), realpath):
        return "poetry", "poetry"
    if ("HATCH_DATA_DIR" in os.environ or "hatch" in lowered) and _under(real, [_hatch_dir()]):
        return "hatch", "hatch"
    if ("PDM_CONFIG_FILE" in os.environ or "pdm" in lowered) and _under(real, [_pdm_dir()]):
        return "pdm", "pdm"
    return "explicit", None


def env_from_path(path: str) -> Env:
    """The env named by an explicit ENV argument: its directory, its python executable, or
    a name relative to the current directory (".venv"). UsageError when it is not an env."""
    p = os.path.abspath(os.path.expanduser(path))
    if not _lexists(p):
        raise UsageError(f"{path} does not exist", hint="Run `venvsel scan` to list the envs.")
    if not _is_dir(p):
        # <env>/bin/python, <env>\Scripts\python.exe, or <conda prefix>\python.exe
        parent = os.path.dirname(p)
        in_bin = os.path.basename(parent).lower() in ("bin", "scripts")
        p = os.path.dirname(parent) if in_bin else parent
    elif os.path.basename(p).lower() in ("bin", "scripts") and looks_like_env(
        os.path.dirname(p), interpreter_is_enough=True
    ):
        p = os.path.dirname(p)  # ".venv/bin": the user meant the env
    if not looks_like_env(p, interpreter_is_enough=True):
        raise UsageError(
            f"{path} is not a Python environment: no pyvenv.cfg, conda-meta or bin/python",
            hint="Run `venvsel scan` to list the envs.",
        )
    source, hint = _hint_for(os.path.realpath(p))
    return _make_env(p, source, hint, cwd=os.getcwd(), active=_active_paths())


__all__ = ["RealPaths", "discover", "env_from_path", "find_site_packages", "read_pyvenv_cfg"]
