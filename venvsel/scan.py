"""The pipeline up to a decision: discover → inspect (or cache) → predict → probe (or cache).

``scan()`` is what ``venvsel scan``, ``pick``, ``doctor`` and ``require`` stand on. Its warm
path (every env's cache entry fresh) reads only stat() results and small JSON files: no
interpreter is started and nothing heavy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace

from .cache import Cache, env_fingerprint, new_entry
from .config import load_config
from .discover import RealPaths, discover
from .fsutil import list_dirs
from .machine import driver_fingerprint, read_machine
from .model import Env, EnvRecord, Machine, ProbeResult
from .predict import predict
from .record import frozen
from .render import Progress
from .trust import check as trust_check


@frozen
class ScanResult:
    """Every env found, with its record, and the machine they were judged on."""

    machine: Machine
    records: tuple[EnvRecord, ...]
    roots: tuple[str, ...]
    probed: int = 0  # how many envs were probed live in this call (0 on a warm run)
    # False for `scan --static`: nothing was started, so every probe shown is one an earlier
    # live scan left in the cache (each such record says probe_cached too)
    live: bool = True


def _label(env: Env) -> str:
    return env.shown_path or env.path


class Scanner:
    """Holds the machine facts and the cache for one command, so records can be refreshed."""

    def __init__(self, *, refresh: bool = False) -> None:
        self.machine = read_machine()
        self.machine_fp = driver_fingerprint()
        self.cache = Cache()
        self.refresh = refresh
        self.realpath = RealPaths()

    def records(self, envs: Sequence[Env]) -> list[EnvRecord]:
        """Static facts (from the cache when fresh), the trust verdict (venvsel/trust.py) and
        the cached probe, if any, of every env; what had to be inspected is written to the
        cache in one transaction. A cached probe counts only while the env is trusted and has
        the owner it had when the probe ran."""

        out, pending = [], []
        for env in envs:
            listings = list_dirs(env.site_packages)  # one listing: the rule and the fingerprint
            trust = trust_check(env, listings)
            env_fp = env_fingerprint(env, self.realpath, listings)
            entry = (
                None if self.refresh
                else self.cache.get(env, env_fp=env_fp, machine_fp=self.machine_fp,
                                    owner_uid=trust.owner_uid)
            )
            if entry is not None:
                static, probe = entry.static, entry.probe
            else:
                # Lazy: contents compiles its regexes on import (~1.2 ms, measured), and a
                # warm pick answered from the cache never reads an env's files.
                from .contents import inspect_env

                static, probe = inspect_env(env), None
                pending.append(new_entry(env, env_fp=env_fp, machine_fp=self.machine_fp,
                                         static=static, probe=None, owner_uid=trust.owner_uid))
            if not trust.trusted:
                probe = None
            out.append(EnvRecord(
                env=env,
                static=static,
                prediction=predict(static, self.machine, env_label=_label(env)),
                probe=probe,
                probe_cached=probe is not None,
                trust=trust,
            ))
        self.cache.put_many(pending)
        return out

    def record(self, env: Env) -> EnvRecord:
        """Static facts (from the cache when fresh) and the cached probe, if any."""
        return self.records([env])[0]

    def store_probes(self, pairs: Sequence[tuple[EnvRecord, ProbeResult]]) -> list[EnvRecord]:
        """Remember fresh probe results, in one transaction; each fingerprint is taken again
        after the spawn. An "untrusted" answer (the probe refused to start) is shown, never
        remembered."""

        entries = [
            new_entry(r.env, env_fp=env_fingerprint(r.env), machine_fp=self.machine_fp,
                      static=r.static, probe=probe,
                      owner_uid=r.trust.owner_uid if r.trust is not None else None)
            for r, probe in pairs if probe.status != "untrusted"
        ]
        self.cache.put_many(entries)
        return [replace(r, probe=probe, probe_cached=False) for r, probe in pairs]

    def store_probe(self, record: EnvRecord, probe: ProbeResult) -> EnvRecord:
        """Remember a fresh probe result; the fingerprint is taken again after the spawn."""
        return self.store_probes([(record, probe)])[0]

    def probe(
        self,
        records: Sequence[EnvRecord],
        *,
        jobs: int | None = None,
        timeout: float | None = None,
        on_done: Callable[[Env, ProbeResult], None] | None = None,
    ) -> list[EnvRecord]:
        """Probe live every trusted record without a cached probe (all of them with
        ``refresh``). Untrusted records are returned as they are: never probed."""

        config = load_config()
        todo = [r for r in records if (r.probe is None or self.refresh) and not r.untrusted]
        if not todo:
            return list(records)
        # Lazy: the probe module imports subprocess, threading, tempfile and secrets (with
        # hashlib), which a warm pick answered from the cache never needs (`-X importtime`:
        # ~10 ms of a ~60 ms pick).
        from .probe import probe_many

        results = probe_many(
            [r.env for r in todo],
            jobs=jobs or config.jobs,
            timeout=timeout or config.probe_timeout,
            on_done=on_done,
        )
        fresh = [(r, results[r.env.path]) for r in records if r.env.path in results]
        stored = {r.env.path: r for r in self.store_probes(fresh)}
        return [stored.get(r.env.path, r) for r in records]


def scan(
    roots: Sequence[str] | None = None,
    *,
    live: bool = True,
    refresh: bool = False,
    jobs: int | None = None,
    timeout: float | None = None,
    include_global: bool = True,
    progress: bool = False,
) -> ScanResult:
    """Every env found under ``roots`` (and the global locators), with facts and verdicts."""

    config = load_config()
    scanner = Scanner(refresh=refresh)
    envs = discover(roots, include_global=include_global, config=config,
                    realpath=scanner.realpath)
    records = scanner.records(envs)
    probed = 0
    if live:
        todo = sum(1 for r in records if (r.probe is None or refresh) and not r.untrusted)
        probed = todo
        if todo:
            with Progress("probing", total=todo, enabled=progress) as bar:
                records = scanner.probe(
                    records,
                    jobs=jobs,
                    timeout=timeout,
                    on_done=lambda env, _res: bar.advance(_label(env)),
                )
    shown_roots = tuple(roots) if roots else (os.getcwd(),)
    return ScanResult(scanner.machine, tuple(records), shown_roots, probed, live)
