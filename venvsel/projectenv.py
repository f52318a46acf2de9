"""Which env(s) belong to a project directory, and which tool says so — from files alone.

Each env manager decides where a project's env lives by its own rule; this module applies
the same rules, read from each tool's source (versions pinned in the ``test`` extra and
checked against envs the real tools make, in ``tests/integration/test_project_tools.py``):

- **venvsel**: the env ``venvsel use`` recorded (``[tool.venvsel] env``, ``.venvsel.toml``).
- **poetry** (``EnvManager.generate_env_name``): ``<virtualenvs.path>/<name>-<h>-py<X.Y>``,
  where name is the canonical project name lower-cased, ``[ $`!*@"\\\\\\r\\n\\t]`` → ``_``, cut
  to 42; ``h`` = first 8 chars of urlsafe-base64(sha256(normcase(realpath(project dir))));
  ``X.Y`` from ``envs.toml`` (``poetry env use``) or any such env on disk.
  ``virtualenvs.in-project`` (env var, ``poetry.toml``, global ``config.toml``) or an existing
  ``.venv`` dir puts it at ``<project>/.venv``. ``virtualenvs.path`` defaults to
  ``{cache-dir}/virtualenvs``.
- **pipenv** (``VenvLocator``): ``$WORKON_HOME`` (default ``$XDG_DATA_HOME/virtualenvs``)
  ``/<dir>-<h>`` with dir the Pipfile's dir name (``[ &$`!*@"()[]\\\\\\r\\n\\t]`` → ``_``,
  42 chars) and ``h`` = urlsafe-base64(sha256(Pipfile path)[:6]); ``PIPENV_VENV_IN_PROJECT``,
  ``[pipenv] venv_in_project`` or a ``.venv`` dir → ``<project>/.venv``; a ``.venv`` *file*
  names the env (a path, else a name under WORKON_HOME); ``PIPENV_CUSTOM_VENV_NAME``.
- **hatch** (``VirtualEnvironment.__init__``, ``Path.id``):
  ``<data>/env/virtual/<project>/<id>/<env>``, ``id`` = first 8 chars of
  urlsafe-base64(sha256(project dir)); the ``default`` env is named after the project.
  A ``path`` option of ``[tool.hatch.envs.default]`` (or ``hatch.toml``) wins.
- **pdm** (``pdm.cli.commands.venv.utils``): ``.pdm-python`` (or ``PDM_PYTHON``) names the
  interpreter; named envs are ``<venv.location>/<dir name>-<h>-<name>`` with ``h`` = first 8
  chars of urlsafe-base64(**md5**(project dir as posix)); in-project ``.venv``/``venv``/``env``.
- **uv**: ``$UV_PROJECT_ENVIRONMENT`` (relative to the workspace root) else
  ``<workspace root>/.venv`` (the root is the nearest parent with ``[tool.uv.workspace]``).
- **conda**: ``environment.yml``/``.yaml``: ``prefix:`` or the env called ``name:`` in the
  envs dirs.
- **pyenv**: ``.python-version`` (``pyenv-version-file-read`` / ``pyenv-version-name``):
  each version, ``python-`` prefix dropped, a prefix resolved to the newest installed
  release; a pyenv-virtualenv env is an env, a plain version is a base interpreter.
- **local**: ``.venv``, ``venv``, ``env``, ``.conda`` dirs in the project dir.

The project dir is the nearest directory, walking up from the start (never past a ``.git``
root, never ``$HOME`` or ``/``), that holds one of those tools' files. Everything here is
``stat`` and small reads: no process is started, nothing heavy imported. Shell auto-activation
calls :func:`project_envs` on every ``cd``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from typing import Any, Literal

from .discover import (
    _CONDA_HOME_INSTALLS,
    _CONDA_SYSTEM_INSTALLS,
    _child_dirs,
    _project_candidate,
    looks_like_env,
    pyenv_versions_dir,
)
from .order import natural_key
from .paths import user_dir, walk_up
from .project import find_project
from .record import frozen
from .tomlfile import read_lenient
from .tooldirs import (
    hatch_virtual_dir,
    pdm_venvs_dir,
    poetry_setting,
    poetry_virtualenvs_path,
    table,
    truthy,
)

# Files that make a directory a project (for one tool or another).
MARKERS = (
    "pyproject.toml", "Pipfile", "setup.py", "setup.cfg", "environment.yml",
    "environment.yaml", ".python-version", ".pdm-python", ".venvsel.toml", "hatch.toml",
    "poetry.toml", "uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock",
)
LOCAL_NAMES = (".venv", "venv", "env", ".conda")
# Who names a project's env: a tool's own files, venvsel's record, or a local env dir.
Tool = Literal["venvsel", "poetry", "pipenv", "hatch", "pdm", "uv", "conda", "pyenv", "local"]


@frozen
class ProjectEnv:
    """One env a project's files name, and who names it."""

    path: str  # absolute, as the tool names it (not resolved)
    tool: Tool
    why: str  # the rule, in words: "poetry: name my-proj + sha256 of /x/my-proj"
    exists: bool  # the directory is there (it may still be broken: discovery says)
    base: bool = False  # a base interpreter (a pyenv version named by .python-version)
    recreate: str | None = None  # the tool's own command that (re)creates it

    @property
    def real(self) -> str:
        return os.path.realpath(self.path)


@frozen
class Ownership:
    """The project dir and the envs that belong to it, in order of precedence."""

    root: str | None  # None: not inside any project
    envs: tuple[ProjectEnv, ...]

    @property
    def existing(self) -> tuple[ProjectEnv, ...]:
        return tuple(e for e in self.envs if e.exists)

    @property
    def missing(self) -> tuple[ProjectEnv, ...]:
        return tuple(e for e in self.envs if not e.exists)


# --------------------------------------------------------------------------- small helpers


def _is_dir(path: str) -> bool:
    return os.path.isdir(path)


def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def _read(path: str, limit: int = 256 * 1024) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def _home() -> str:
    return os.path.expanduser("~")


def _b64_8(digest: bytes) -> str:
    import base64  # here, not at the top: only hashed names need it (~1.5 ms to import)

    return base64.urlsafe_b64encode(digest).decode()[:8]


def _canonical(name: str) -> str:
    """PEP 503 normalised name, as packaging.utils.canonicalize_name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_of_interpreter(exe: str) -> str:
    """<env>/bin/python → <env>; a conda/Windows python.exe at the prefix → its dir."""
    parent = os.path.dirname(exe)
    if os.path.basename(parent).lower() in ("bin", "scripts"):
        return os.path.dirname(parent)
    return parent


# --------------------------------------------------------------------------- the project dir


def _has_env_dir(d: str) -> bool:
    """``d`` holds an env dir named like one (.venv, .venv310, venv, env, .conda): a plain
    ``python -m venv .venv`` makes a project of a directory with no other file."""
    try:
        names = os.listdir(d)
    except OSError:
        return False
    return any((n.startswith((".venv", "venv")) or n in ("env", ".conda"))
               and looks_like_env(os.path.join(d, n)) for n in names)



def find_root(start: str | None = None) -> str | None:
    """The nearest dir (from ``start``, default cwd, upwards) that holds a project file;
    never ``$HOME`` or ``/``, never above a directory holding ``.git``."""
    home = os.path.realpath(_home())
    for d in walk_up(start or os.getcwd()):  # stops at the dir holding .git
        if os.path.realpath(d) == home or os.path.dirname(d) == d:
            return None
        if any(os.path.lexists(os.path.join(d, m)) for m in MARKERS) or _has_env_dir(d):
            return d
    return None


# --------------------------------------------------------------------------- per tool


def poetry_env_name(name: str, project_dir: str) -> str:
    """poetry's ``EnvManager.generate_env_name`` for the (unnormalised) project name."""
    name = _canonical(name).lower()
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name)[:42]
    normalized_cwd = os.path.normcase(os.path.realpath(project_dir))
    import hashlib  # here, not at the top: ~5 ms to import, and most projects never need it

    h = _b64_8(hashlib.sha256(normalized_cwd.encode()).digest())
    return f"{sanitized}-{h}"


def _py_suffix_newest_first(name: str) -> tuple[tuple[int, ...], str]:
    m = re.search(r"-py(\d+)\.(\d+)$", name)
    return ((-int(m.group(1)), -int(m.group(2))) if m else (), name)


def _poetry(root: str, pyproject: dict[str, Any]) -> Iterator[ProjectEnv]:
    tool = table(pyproject, "tool", "poetry")
    claimed = "poetry" in table(pyproject, "tool") or any(
        os.path.lexists(os.path.join(root, f)) for f in ("poetry.lock", "poetry.toml"))
    config_dir = os.environ.get("POETRY_CONFIG_DIR") or user_dir("config", "pypoetry")
    glob = read_lenient(os.path.join(config_dir, "config.toml"))
    local = read_lenient(os.path.join(root, "poetry.toml"))
    in_project = truthy(poetry_setting(local, glob, "virtualenvs", "in-project"))
    dot_venv = os.path.join(root, ".venv")
    if in_project or (in_project is None and _is_dir(dot_venv)):
        if claimed:
            yield ProjectEnv(dot_venv, "poetry", "poetry: virtualenvs.in-project → .venv",
                             _is_dir(dot_venv), recreate="poetry install")
        return
    name = table(pyproject, "project").get("name") or tool.get("name") or "non-package-mode"
    if not isinstance(name, str):
        return
    venvs = poetry_virtualenvs_path(root)
    try:
        names = sorted(os.listdir(venvs), key=_py_suffix_newest_first)  # py3.12, py3.9
    except OSError:
        names = []
    prefix = re.sub(r'[ $`!*@"\\\r\n\t]', "_", _canonical(name))[:42] + "-"
    if not claimed and not any(n.startswith(prefix) for n in names):
        return  # not a poetry project, and no env of that name: no hash to compute
    base = poetry_env_name(name, root)
    why = f"poetry: env {base}-py* (name {_canonical(name)} + sha256 of {os.path.realpath(root)})"
    chosen: str | None = None
    minor = table(read_lenient(os.path.join(venvs, "envs.toml")), base).get("minor")
    if isinstance(minor, str):
        chosen = os.path.join(venvs, f"{base}-py{minor.strip()}")
        yield ProjectEnv(chosen, "poetry", why + f", py{minor.strip()} chosen by `poetry env use`",
                         _is_dir(chosen), recreate=f"poetry env use {minor.strip()}")
    found = False
    for n in names:
        p = os.path.join(venvs, n)
        if n.startswith(f"{base}-py") and p != chosen and _is_dir(p):
            found = True
            yield ProjectEnv(p, "poetry", why, True, recreate="poetry install")
    if claimed and chosen is None and not found:
        yield ProjectEnv(os.path.join(venvs, f"{base}-py<X.Y>"), "poetry", why, False,
                         recreate="poetry install")


def pipenv_env_name(project_dir: str, pipfile: str | None = None) -> str:
    """pipenv's ``VenvLocator.name`` (no PIPENV_CUSTOM_VENV_NAME / PIPENV_PYTHON)."""
    location = pipfile or os.path.join(project_dir, "Pipfile")
    name = os.path.basename(os.path.dirname(location))
    clean = re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", name)[0:42]
    import hashlib  # not at the top: see poetry_env_name

    h = _b64_8(hashlib.sha256(location.encode()).digest()[:6])
    return f"{clean}-{h}"


def _workon_home() -> str:
    value = os.environ.get("WORKON_HOME")
    if not value:
        value = os.path.join(os.environ.get("XDG_DATA_HOME") or "~/.local/share", "virtualenvs")
    return os.path.abspath(os.path.expanduser(os.path.expandvars(value)))


def _pipenv(root: str) -> Iterator[ProjectEnv]:
    pipfile = os.environ.get("PIPENV_PIPFILE") or os.path.join(root, "Pipfile")
    if not _is_file(pipfile):
        return
    pipfile = os.path.abspath(pipfile)
    root = os.path.dirname(pipfile)
    dot_venv = os.path.join(root, ".venv")
    workon = _workon_home()
    custom = os.environ.get("PIPENV_CUSTOM_VENV_NAME")
    name = custom or pipenv_env_name(root, pipfile)
    py = os.environ.get("PIPENV_PYTHON")
    if py and not custom:
        name += f"-{os.path.basename(py) if os.path.isabs(py) else py}"
    default = os.path.join(workon, name)
    why = f"pipenv: env {name} (dir name + sha256 of {pipfile})"
    if _is_file(dot_venv):  # a .venv *file* names the env
        text = (_read(dot_venv) or "").strip()
        if text:
            looks_like_dir = os.sep in text or "/" in text
            target = os.path.abspath(os.path.join(root, text)) if looks_like_dir else (
                os.path.join(workon, text))
            yield ProjectEnv(target, "pipenv", f"pipenv: the .venv file names {text}",
                             _is_dir(target), recreate="pipenv install")
            return
    env_flag = truthy(os.environ.get("PIPENV_VENV_IN_PROJECT"))
    file_flag = truthy(table(read_lenient(pipfile), "pipenv").get("venv_in_project"))
    in_project = env_flag if env_flag is not None else file_flag
    if in_project is None and _is_dir(dot_venv):
        in_project = not _is_dir(default)  # pipenv prefers an env it made already
    if in_project:
        yield ProjectEnv(dot_venv, "pipenv", "pipenv: venv in project → .venv", _is_dir(dot_venv),
                         recreate="pipenv install")
        return
    yield ProjectEnv(default, "pipenv", why, _is_dir(default), recreate="pipenv install")


def hatch_project_id(project_dir: str) -> str:
    """hatch's ``Path.id``: urlsafe-base64(sha256(str(path)))[:8] (casefolded on macOS/Win)."""
    path = str(project_dir)
    if sys.platform in ("win32", "darwin"):
        path = path.casefold()
    import hashlib  # not at the top: see poetry_env_name

    return _b64_8(hashlib.sha256(path.encode("utf-8")).digest())


def _hatch(root: str, pyproject: dict[str, Any]) -> Iterator[ProjectEnv]:
    hatch_toml = read_lenient(os.path.join(root, "hatch.toml"))
    envs_cfg = table(hatch_toml, "envs") or table(pyproject, "tool", "hatch", "envs")
    claimed = "hatch" in table(pyproject, "tool") or bool(hatch_toml)
    raw_name = table(pyproject, "project").get("name")
    if not claimed and not (isinstance(raw_name, str) and _is_dir(
            os.path.join(hatch_virtual_dir(root), _canonical(raw_name)))):
        return  # not a hatch project, and no hatch env of that name: no hash to compute
    project_id = hatch_project_id(root)
    project_name = _canonical(raw_name) if isinstance(raw_name, str) else f"{project_id}-unmanaged"
    default_path = table(envs_cfg, "default").get("path")
    if isinstance(default_path, str) and default_path:
        p = default_path if os.path.isabs(default_path) else os.path.join(root, default_path)
        yield ProjectEnv(os.path.normpath(p), "hatch", "hatch: [envs.default] path",
                         _is_dir(p), recreate="hatch env create")
        return
    storage = os.path.join(hatch_virtual_dir(root), project_name, project_id)
    why = f"hatch: {project_name}/{project_id} (sha256 of {root})"
    default = os.path.join(storage, project_name)
    if _is_dir(default) or claimed:
        yield ProjectEnv(default, "hatch", why + ", env default", _is_dir(default),
                         recreate="hatch env create")
    try:
        names = sorted(os.listdir(storage))
    except OSError:
        names = []
    for n in names:
        p = os.path.join(storage, n)
        if n != project_name and not n.endswith("-build") and looks_like_env(p):
            yield ProjectEnv(p, "hatch", why + f", env {n}", True, recreate=f"hatch env create {n}")


def pdm_venv_prefix(project_dir: str) -> str:
    """pdm's ``get_venv_prefix``: ``<dir name>-<urlsafe-b64(md5(posix path))[:8]>-``."""
    posix = project_dir.replace(os.sep, "/")
    import hashlib  # not at the top: see poetry_env_name

    digest = hashlib.md5(posix.encode(), usedforsecurity=False).digest()
    return f"{os.path.basename(project_dir)}-{_b64_8(digest)}-"


def _pdm(root: str, pyproject: dict[str, Any]) -> Iterator[ProjectEnv]:
    saved = os.environ.get("PDM_PYTHON") or (_read(os.path.join(root, ".pdm-python")) or "").strip()
    if saved:
        env = _env_of_interpreter(saved if os.path.isabs(saved) else os.path.join(root, saved))
        yield ProjectEnv(env, "pdm", f"pdm: .pdm-python names {saved}",
                         _is_dir(env) and looks_like_env(env), recreate="pdm install")
    venvs = pdm_venvs_dir()
    try:
        names = sorted(os.listdir(venvs))
    except OSError:
        names = []
    named = False
    base = os.path.basename(root) + "-"
    prefix = pdm_venv_prefix(root) if any(n.startswith(base) for n in names) else base + "\0"
    for n in names:
        if n.startswith(prefix):
            named = True
            p = os.path.join(venvs, n)
            yield ProjectEnv(p, "pdm", f"pdm: named env {n[len(prefix):]} ({prefix}… = dir name "
                             f"+ md5 of {root})", _is_dir(p),
                             recreate=f"pdm venv create --name {n[len(prefix):]}")
    claimed = "pdm" in table(pyproject, "tool") or os.path.lexists(
        os.path.join(root, "pdm.lock"))
    if claimed and not saved and not named:
        dot_venv = os.path.join(root, ".venv")
        yield ProjectEnv(dot_venv, "pdm", "pdm: venv.in_project → .venv", _is_dir(dot_venv),
                         recreate="pdm install")


def _uv_root(root: str) -> str:
    """The workspace root: the nearest parent whose pyproject.toml has [tool.uv.workspace]."""
    home = os.path.realpath(_home())
    for d in walk_up(os.path.dirname(root)):  # stops at the dir holding .git
        if os.path.dirname(d) == d or os.path.realpath(d) == home:
            break
        if "workspace" in table(read_lenient(os.path.join(d, "pyproject.toml")), "tool", "uv"):
            return d
    return root


def _uv(root: str, pyproject: dict[str, Any]) -> Iterator[ProjectEnv]:
    claimed = "uv" in table(pyproject, "tool") or os.path.lexists(
        os.path.join(root, "uv.lock"))
    if not claimed:
        return
    install = _uv_root(root)
    value = os.environ.get("UV_PROJECT_ENVIRONMENT")
    if value:
        path = value if os.path.isabs(value) else os.path.join(install, value)
        why = "uv: UV_PROJECT_ENVIRONMENT"
    else:
        path = os.path.join(install, ".venv")
        why = "uv: the workspace's .venv"
    yield ProjectEnv(path, "uv", why, _is_dir(path), recreate="uv sync")


def _conda_envs_dirs() -> list[str]:
    dirs = [p for var in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS")
            for p in os.environ.get(var, "").split(os.pathsep) if p]
    installs = []
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        exe = os.environ.get(var)
        if exe:
            installs.append(os.path.dirname(os.path.dirname(exe)))
    for var in ("CONDA_ROOT", "MAMBA_ROOT_PREFIX"):
        if os.environ.get(var):
            installs.append(os.environ[var])
    installs += [os.path.join(_home(), n) for n in _CONDA_HOME_INSTALLS]
    installs += list(_CONDA_SYSTEM_INSTALLS)
    dirs += [os.path.join(i, "envs") for i in installs]
    dirs.append(os.path.join(_home(), ".conda", "envs"))
    return [os.path.expanduser(d) for d in dirs]


def _yaml_key(text: str, key: str) -> str | None:
    """A top-level ``key: value`` of a small YAML file (quotes stripped)."""
    for line in text.splitlines():
        m = re.match(rf"^{key}\s*:\s*(.+?)\s*(#.*)?$", line)
        if m:
            return m.group(1).strip().strip("'\"") or None
    return None


def _conda(root: str) -> Iterator[ProjectEnv]:
    for fname in ("environment.yml", "environment.yaml"):
        text = _read(os.path.join(root, fname))
        if text is None:
            continue
        prefix = _yaml_key(text, "prefix")
        name = _yaml_key(text, "name")
        if prefix:
            p = os.path.expanduser(prefix)
            yield ProjectEnv(p, "conda", f"conda: {fname} prefix", _is_dir(p),
                             recreate=f"conda env create -f {fname}")
        elif name:
            dirs = _conda_envs_dirs()
            hit = next((os.path.join(d, name) for d in dirs
                        if _is_dir(os.path.join(d, name, "conda-meta"))), None)
            yield ProjectEnv(hit or name, "conda", f"conda: {fname} names env {name!r}",
                             hit is not None, recreate=f"conda env create -f {fname}")
        return


def _pyenv_resolve(versions: str, version: str) -> str | None:
    """pyenv-version-name's rule for one entry: exact, python- prefix dropped, newest match."""
    for v in (version, version.removeprefix("python-")):
        if v and ".." not in v.split("/") and _is_dir(os.path.join(versions, v)):
            return v
    prefix = version.removeprefix("python-")
    try:
        names = os.listdir(versions)
    except OSError:
        return None
    cands = [n for n in names
             if (n.startswith(prefix + ".") or n.startswith(prefix + "-"))
             and not re.search(r"(-dev|-src|-latest|(a|b|rc)[0-9]+|[0-9]t)$", n)
             and not os.path.islink(os.path.join(versions, n))]  # links are virtualenvs

    def key(n: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", n))

    return max(cands, key=key) if cands else None


def _pyenv(root: str) -> Iterator[ProjectEnv]:
    text = _read(os.path.join(root, ".python-version"), 64 * 1024)
    if text is None:
        return
    versions = pyenv_versions_dir()
    for line in text.replace("\r", "\n").splitlines():
        words = line.split()
        if not words or words[0].startswith("#") or words[0] == "system":
            continue
        wanted = words[0]
        name = _pyenv_resolve(versions, wanted)
        if name is None:
            yield ProjectEnv(os.path.join(versions, wanted), "pyenv",
                             f"pyenv: .python-version names {wanted}, not installed", False,
                             recreate=f"pyenv install {wanted}")
            continue
        p = os.path.join(versions, name)
        is_env = os.path.lexists(os.path.join(os.path.realpath(p), "pyvenv.cfg"))
        what = "pyenv-virtualenv env" if is_env else "Python version"
        yield ProjectEnv(p, "pyenv", f"pyenv: .python-version names {what} {name}", True,
                         base=not is_env)


def _local(root: str) -> Iterator[ProjectEnv]:
    """Env dirs in the project dir, as discovery's project locator sees them (``.venv*``,
    ``venv*``, ``env``, ``.conda``, any dir with pyvenv.cfg): the usual names first."""
    children = [(n, p) for n, p in _child_dirs(root) if _project_candidate(n, p)]
    children.sort(key=lambda c: (LOCAL_NAMES.index(c[0]) if c[0] in LOCAL_NAMES
                                 else len(LOCAL_NAMES), natural_key(c[0])))
    for n, p in children:
        yield ProjectEnv(p, "local", f"the project's own {n} dir", True)


def _recorded(root: str) -> Iterator[ProjectEnv]:
    project = find_project(root)
    if project is None:
        return
    path = project.env_path()
    if path:
        yield ProjectEnv(path, "venvsel", f"chosen with `venvsel use` ({project.label})",
                         _is_dir(path), recreate="venvsel use")


# --------------------------------------------------------------------------- public API


def ownership(start: str | None = None) -> Ownership:
    """The project dir containing ``start`` (default cwd) and its envs, the one to use first."""
    root = find_root(start)
    if root is None:
        return Ownership(None, ())
    pyproject = read_lenient(os.path.join(root, "pyproject.toml"))
    out: list[ProjectEnv] = []
    seen: set[str] = set()
    for gen in (_recorded(root), _poetry(root, pyproject), _pipenv(root), _hatch(root, pyproject),
                _pdm(root, pyproject), _uv(root, pyproject), _conda(root), _local(root),
                _pyenv(root)):
        for pe in gen:
            key = pe.real if pe.exists else pe.path
            if key not in seen:
                seen.add(key)
                out.append(pe)
    # An env found on disk beats one a tool names but nobody made; order kept otherwise.
    return Ownership(root, tuple(out))


def project_envs(project_dir: str | None = None) -> list[ProjectEnv]:
    """The envs that belong to the project at (or above) ``project_dir``, first = use first.

    Stat and small file reads only (no process, no heavy import): cheap enough for a shell's
    ``cd`` hook. Entries with ``exists=False`` are envs a tool's files name that are not on
    disk (deleted, or never created); ``recreate`` gives the tool's command.
    """
    return list(ownership(project_dir).envs)


def owner_of(env_path: str, start: str | None = None) -> ProjectEnv | None:
    """The entry of :func:`project_envs` that is ``env_path`` (same real path), if any."""
    real = os.path.realpath(env_path)
    for pe in project_envs(start):
        if pe.exists and pe.real == real:
            return pe
    return None


__all__ = [
    "Ownership",
    "ProjectEnv",
    "find_root",
    "hatch_project_id",
    "owner_of",
    "ownership",
    "pdm_venv_prefix",
    "pipenv_env_name",
    "poetry_env_name",
    "project_envs",
]
