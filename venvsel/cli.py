"""The command line: click commands that parse, call one core function and render. No logic.

Each command imports the modules it uses inside its own function (the one place in the
package where imports inside functions are the rule, not a marked exception): a command
loads only its part of venvsel, and ``venvsel --help`` costs 48 ms of CPU instead of 128 ms
with every command's modules at the top (median of 15 runs, this 2-core machine, 2026-12-02).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import EXIT_INTERRUPTED, EXIT_USAGE, VenvselError
from .shellnames import AUTO_SHELLS, HOOK_SHELLS, SHELLS

if TYPE_CHECKING:
    from .render import Result

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# ctx.meta key: --json was given (ctx.meta is shared by every context of one invocation).
JSON = "venvsel.json"


def json_option(f: F) -> F:
    def on(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        ctx.meta[JSON] = value
        return value

    return click.option(
        "--json", "as_json", is_flag=True, callback=on, help="Print the versioned JSON envelope."
    )(f)


def verbose_option(f: F) -> F:
    """--verbose: every env's reason, not only one line per distinct reason."""

    def on(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            from .reasons import set_verbose

            set_verbose()
        return value

    return click.option(
        "--verbose", is_flag=True, expose_value=False, callback=on, is_eager=True,
        help="List every env's reason (by default envs that share a reason share a line).",
    )(f)


def need_options(f: F) -> F:
    """--need (repeatable) and --python, shared by every command that selects an env."""
    f = click.option(
        "--python", "python_spec", metavar="SPEC", default=None,
        help='Python version the env must have, e.g. ">=3.10".',
    )(f)
    f = click.option(
        "--need", "needs", multiple=True, metavar="NEED",
        help="cuda, torch, llama, llama-gpu, rocm, mps, or a requirement such as "
        '"torch>=2.3". Repeat to AND them.',
    )(f)
    return f


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="venvsel")
@click.option(
    "--debug", is_flag=True, envvar="VENVSEL_DEBUG", help="Log details and show tracebacks."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find every Python environment, tell the truth about what each can do on the GPU,
    pick the right one, activate it in any shell, repair it, and benchmark inside it.

    \b
    Examples:
      venvsel scan                      # every env here and what it can do
      venvsel pick --need cuda          # path of the best env that runs CUDA
      eval "$(venvsel activate --need cuda)"
      venvsel doctor                    # the root-cause report
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        from .log import enable

        enable()


@cli.result_callback()
@click.pass_context
def render_result(ctx: click.Context, /, result: object, **_: object) -> int:
    """The one place a command's result becomes output and an exit status, for --json and
    text alike (render.emit prints; a non-zero status leaves through click's Exit)."""
    from .render import Result, emit

    if not isinstance(result, Result):  # --help, --version, a group without a command
        return 0
    code = emit(result, bool(ctx.meta.get(JSON)))
    if code:
        raise click.exceptions.Exit(code)
    return 0


# ---------------------------------------------------------------- commands are added below
# Each command: parse → one core call → return its result (views.py); render_result prints.


# ---- scan / pick / doctor / require (lead) ------------------------------------------------

def probe_options(f: F) -> F:
    f = click.option("--jobs", type=click.IntRange(1, 256), default=None,
                     help="Probes run in parallel (default: CPU count).")(f)
    f = click.option("--timeout", type=click.FloatRange(0.1), default=None,
                     help="Seconds one live probe may take (default 30).")(f)
    return f


@cli.command(short_help="List every env and what each can do on the GPU, and why not.")
@click.argument("roots", nargs=-1, type=click.Path())
@click.option("--static", "static", is_flag=True, help="Read files only; start no interpreter.")
@click.option("--refresh", is_flag=True, help="Ignore the cache and probe every env again.")
@click.option(
    "--no-global", is_flag=True, help="Only ROOTS and the active env (skip pyenv, conda, ...)."
)
@probe_options
@json_option
def scan(roots: tuple[str, ...], static: bool, refresh: bool, no_global: bool,
         jobs: int | None, timeout: float | None, as_json: bool) -> Result:
    """Every env found under ROOTS (default: the current directory) and the usual places,
    what each can do on the GPU, and why not.

    \b
    Examples:
      venvsel scan                 # this project and the global locators
      venvsel scan ~/work --static # files only, no interpreter started
      venvsel scan --json | jq '.data.records[].env.path'
    """
    from .scan import scan as do_scan
    from .views import ScanOutput

    return ScanOutput(do_scan(list(roots) or None, live=not static, refresh=refresh, jobs=jobs,
                              timeout=timeout, include_global=not no_global,
                              progress=not as_json))


@cli.command(short_help="Print the path of the best env for the needs (or the project's).")
@need_options
@click.option("--root", "roots", multiple=True, type=click.Path(),
              help="Where to look for project envs (default: the current directory).")
@click.option("--timeout", type=click.FloatRange(0.1), default=None,
              help="Seconds the confirming live probe may take (default 30).")
@click.option("--explain", is_flag=True,
              help="Also print (on stderr) every env in rank order and why it is there.")
@verbose_option
@json_option
def pick(needs: tuple[str, ...], python_spec: str | None, roots: tuple[str, ...],
         timeout: float | None, explain: bool, as_json: bool) -> Result:
    """Print the path of the best env that satisfies every --need (exit 1 and the reasons
    for each env when none does). With no --need: the project's own env (recorded with
    `venvsel use`, or named by its poetry/pipenv/hatch/pdm/uv/conda/pyenv files, or its
    .venv); where there is none, exit 1 naming the candidates: nothing is guessed.

    \b
    Examples:
      venvsel pick                      # this project's env
      venvsel pick --explain            # ... and the ranking, with the reason for each place
      venvsel pick --need cuda
      venvsel pick --need torch --need "numpy>=2" --python ">=3.10"
      cd "$(venvsel pick --need llama-gpu)"
    """
    from .selection import pick as do_pick
    from .views import PickOutput

    if not needs and python_spec is None and not roots:
        # The project's recorded choice (`venvsel use`), exactly as activate/run resolve it.
        from .errors import VenvselError
        from .resolve import resolve_env

        try:
            env = resolve_env(None, (), None)
        except VenvselError:
            if explain:
                click.echo(do_pick((), None).explain_ranking(chosen_path=""), err=True)
            raise
        ranking = do_pick((), None).explain_ranking(chosen_path=env.path) if explain else None
        return PickOutput(recorded=env, ranking=ranking)
    result = do_pick(needs, python_spec, roots=list(roots) or None, timeout=timeout)
    return PickOutput(result, ranking=result.explain_ranking() if explain else None)


@cli.command(short_help="The root-cause report: machine, envs, best env per need, fixes.")
@click.argument("roots", nargs=-1, type=click.Path())
@click.option("--refresh", is_flag=True, help="Ignore the cache and probe every env again.")
@probe_options
@verbose_option
@json_option
def doctor(roots: tuple[str, ...], refresh: bool, jobs: int | None, timeout: float | None,
           as_json: bool) -> Result:
    """The root-cause report: machine, driver, every env with its verdict, the best env per
    need, and numbered fixes.

    \b
    Examples:
      venvsel doctor
      venvsel doctor --json > report.json
    """
    from .doctor import doctor as do_doctor
    from .views import DoctorOutput

    return DoctorOutput(do_doctor(list(roots) or None, refresh=refresh, jobs=jobs,
                                  timeout=timeout, progress=not as_json))


@cli.command(short_help="Exit 1 unless the active env satisfies every --need.")
@need_options
@verbose_option
@json_option
def require(needs: tuple[str, ...], python_spec: str | None, as_json: bool) -> Result:
    """Exit 0 when the active env (VIRTUAL_ENV, else the `python` on PATH) satisfies every
    --need; otherwise exit 1 naming an env that would, and the command to switch to it.

    \b
    Examples:
      venvsel require --need cuda && python train.py
    """
    from .guard import check_shell_env
    from .views import RequireOutput

    return RequireOutput(check_shell_env(needs, python_spec))


# ---- cache (probe/cache helper) ------------------------------------------------------------

@cli.group(short_help="Show or clear the cache of live probe results.")
def cache() -> None:
    """The capability cache: what live probes found, kept until an env or the driver changes.

    \b
    Examples:
      venvsel cache info
      venvsel cache clear
    """


@cache.command("info", short_help="Where the cache is, how many envs it holds, its size.")
@json_option
def cache_info(as_json: bool) -> Result:
    """Where the cache is, how many envs it remembers and how big it is.

    \b
    Examples:
      venvsel cache info
      venvsel cache info --json | jq .data.count
    """
    from .cache import Cache
    from .views import CacheInfoOutput

    return CacheInfoOutput(Cache().info())


@cache.command("clear", short_help="Forget every cached probe.")
@json_option
def cache_clear(as_json: bool) -> Result:
    """Forget every cached probe; the next scan probes every env again.

    \b
    Examples:
      venvsel cache clear
    """
    from .cache import Cache
    from .views import CacheClearOutput

    store = Cache()
    return CacheClearOutput.of(store, store.clear())


# ---- bench (bench helper) ------------------------------------------------------------------

@cli.command(short_help="Benchmark llama.cpp inside an env, like llama-bench.")
@click.option("--env", "envs", multiple=True, metavar="ENV",
              help="Env to benchmark (a path). Repeat to compare envs in one table.")
@need_options
@click.option("--model", "models", multiple=True, type=click.Path(dir_okay=False), metavar="F.gguf",
              help="A GGUF model of your own. Repeatable.")
@click.option("--synthetic", type=click.Choice(["tiny", "small", "1b", "3b"]), default=None,
              help="Generated llama model (random weights; the default, tiny, when no --model).")
@click.option("--quant", default="q4_0,q8_0", metavar="Q[,Q]", show_default=True,
              help="Quantisations of the synthetic model.")
@click.option("--doc", type=click.Path(dir_okay=False), default=None,
              help="Document for the end-to-end job (default: the bundled corpus/large.md).")
@click.option("--gpu", is_flag=True,
              help="All layers on the GPU; FALLBACK (exit 1) if any lands on the CPU.")
@click.option("--cpu", is_flag=True,
              help="Everything on the CPU. With --gpu: both, and the GPU/CPU ratio.")
@click.option("-ngl", "--n-gpu-layers", "n_gpu_layers", default=None, metavar="N[,N]",
              help="Layers to offload (-1: all). Default: all when the build can offload, "
              "else 0.")
@click.option("-r", "--repetitions", "--reps", "reps", type=click.IntRange(1), default=5,
              show_default=True, help="Repetitions of each test after its warm-up.")
@click.option("-p", "--n-prompt", "n_prompt", default=None, metavar="N[,N]",
              help="pp tests: prompt lengths.  [default: 512]")
@click.option("-n", "--n-gen", "n_gen", default=None, metavar="N[,N]",
              help="tg tests: generation lengths.  [default: 128]")
@click.option("-pg", "--prompt-gen", "n_pg", multiple=True, metavar="PP,TG",
              help="A prompt then a generation, timed together (repeatable).")
@click.option("-b", "--batch-size", "--n-batch", "n_batch", default=None, metavar="N[,N]",
              help="Logical batch size. Default: Llama()'s in that env.")
@click.option("-ub", "--ubatch-size", "n_ubatch", default=None, metavar="N[,N]",
              help="Physical (micro-)batch size. Default: Llama()'s in that env.")
@click.option("-ctk", "--cache-type-k", "type_k", default=None, metavar="T[,T]",
              help="KV cache type for K (f16, q8_0, q4_0, ...). Default: Llama()'s (f16).")
@click.option("-ctv", "--cache-type-v", "type_v", default=None, metavar="T[,T]",
              help="KV cache type for V. Default: Llama()'s (f16).")
@click.option("-fa", "--flash-attn", "flash_attn", default=None, metavar="0|1|auto[,...]",
              help="Flash attention (auto: llama.cpp decides; needs a llama-cpp-python whose "
              "llama.cpp has it). Default: Llama()'s in that env.")
@click.option("-t", "--threads", "threads", default=None, metavar="N[,N]",
              help="CPU threads, for prompt and generation alike. Default: Llama()'s in that "
              "env (its own split between generation and batch threads).")
@click.option("--ctx", "n_ctx", type=click.IntRange(16), default=None,
              help="Context size.  [default: 2048, or what the longest test needs]")
@click.option("--delay", type=click.FloatRange(0), default=0, show_default=True,
              help="Seconds to wait before each test (lets the machine cool off).")
@click.option("--no-warmup", is_flag=True, help="Skip the warm-up run before each test.")
@click.option("--tg-loop", "tg_loop", type=click.Choice(["auto", "c", "python"]),
              default="auto", show_default=True,
              help="The token loop of tg tests: c is llama-bench's loop in C, built once with "
              "the machine's C compiler; python is what a Python program driving "
              "llama-cpp-python gets (2-3 % slower on models at thousands of tokens/s); auto "
              "is c when a compiler is found.")
@click.option("-o", "--output", "output", default=None,
              type=click.Choice(["md", "csv", "json", "jsonl", "sql"]),
              help="Print llama-bench's output format with its field names, instead of the "
              "table.")
@click.option("--compare", "compare_files", nargs=2, default=None, metavar="OLD NEW",
              type=click.Path(dir_okay=False, exists=True),
              help="Run nothing: the speed-up table between two result files, matched on "
              "the settings.")
@click.option("--e2e-gen", type=click.IntRange(0), default=64, show_default=True,
              help="Tokens generated in the end-to-end job over --doc (0 skips the job).")
@click.option("--timeout", type=click.FloatRange(1), default=1800, show_default=True,
              help="Seconds one run (load + all measurements) may take before it counts as hung.")
@click.option("--json", "json_out", is_flag=False, flag_value="-", default=None, metavar="[F]",
              help="The versioned JSON envelope: to stdout, or to file F.")
@click.option("--markdown", type=click.Path(dir_okay=False), default=None, metavar="F",
              help="Write the report as Markdown to F.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="F.png",
              help="Write a bar chart to F.png (needs matplotlib: extra 'plot').")
def bench(envs: tuple[str, ...], needs: tuple[str, ...], python_spec: str | None,
          models: tuple[str, ...], synthetic: str | None, quant: str, doc: str | None, gpu: bool,
          cpu: bool, n_gpu_layers: str | None, reps: int, n_prompt: str | None,
          n_gen: str | None, n_pg: tuple[str, ...], n_batch: str | None, n_ubatch: str | None,
          type_k: str | None, type_v: str | None, flash_attn: str | None, threads: str | None,
          n_ctx: int | None, delay: float, no_warmup: bool, tg_loop: str, output: str | None,
          compare_files: tuple[str, str] | None, e2e_gen: int, timeout: float,
          json_out: str | None, markdown: str | None, plot: str | None) -> Result:
    """Benchmark llama.cpp inside an env, like llama-bench: pp and tg tokens/s (median ±
    stdev), load time, words/s of a job over a document, and where the layers really went.
    Asking for the GPU and getting the CPU is a FALLBACK: exit 1, with the reason and the fix.
    A worker that crashes or hangs is reported as such (exit 3). No download: the default
    model is generated.

    llama-bench's options (-p -n -pg -b -ub -t -ngl -fa -ctk -ctv -r) take comma-separated
    lists and form llama-bench's test matrix; a setting not given is what llama_cpp.Llama()
    in that env uses. -o md|csv|json|jsonl|sql prints llama-bench's formats and field names
    (llama.cpp's compare-llama-bench.py reads them).

    \b
    Examples:
      venvsel bench                                  # synthetic tiny, Q4_0 vs Q8_0
      venvsel bench --env .venv --gpu                # FALLBACK if .venv cannot offload
      venvsel bench --env .venv -p 512 -n 128 -fa 0,1 -t 1,2 -o json > new.json
      venvsel bench --compare old.json new.json      # speed-up, test by test
      venvsel bench --env .venv310 --cpu --gpu --synthetic 3b --plot speed.png
      venvsel bench --env .venv --env .venv310 --model my.gguf --markdown bench.md
      venvsel bench --json out.json                  # table on stdout, JSON in out.json
    """
    from . import errors as _errors
    from .bench import matrix as bm
    from .bench import report as bench_report
    from .views import BenchCompareOutput, BenchOutput

    click.get_current_context().meta[JSON] = json_out == "-"  # --json F writes a file
    if compare_files:
        from .bench import compare as bench_compare

        return BenchCompareOutput(bench_compare.compare(*compare_files))
    from .bench.results import DEFAULT_DOC, BenchParams, BenchRequest
    from .bench.run import bench as do_bench

    if output and json_out == "-":
        raise _errors.UsageError("-o and --json (to stdout) both want stdout: give --json a "
                                 "file name, or drop one of them.")
    if plot:
        bench_report.require_matplotlib()
    quants = tuple(q.strip().lower() for q in quant.split(",") if q.strip())
    ngl = bm.int_list(n_gpu_layers, "--n-gpu-layers", minimum=-1, default=())
    mx = bm.Matrix(
        n_prompt=bm.counts(n_prompt, "--n-prompt", 512),
        n_gen=bm.counts(n_gen, "--n-gen", 128),
        n_pg=bm.pg_pairs(n_pg),
        n_batch=bm.int_list(n_batch, "--batch-size", minimum=1),
        n_ubatch=bm.int_list(n_ubatch, "--ubatch-size", minimum=1),
        type_k=bm.cache_type_list(type_k, "--cache-type-k"),
        type_v=bm.cache_type_list(type_v, "--cache-type-v"),
        flash_attn=bm.fa_list(flash_attn),
        threads=bm.int_list(threads, "--threads", minimum=1),
    )
    params = BenchParams(reps=reps, matrix=mx, n_ctx=n_ctx,
                         doc=None if e2e_gen == 0 else (doc or str(DEFAULT_DOC)),
                         e2e_gen=e2e_gen, timeout=timeout, delay=delay, warmup=not no_warmup,
                         tg_loop=tg_loop)
    req = BenchRequest(envs=envs, needs=needs, python_spec=python_spec, models=models,
                       synthetic=synthetic, quants=quants, gpu=gpu, cpu=cpu,
                       n_gpu_layers=tuple(int(x) for x in ngl if x is not None) or None,
                       params=params)
    result = do_bench(req, progress=json_out != "-" and output is None)
    bench_report.write_files(result, json_out=json_out, markdown=markdown, plot=plot)
    return BenchOutput(result, output=output)


# ---- use / status (project pinning helper) -------------------------------------------------

@cli.command(short_help="Pin this project to an env (and point editors and tools at it).")
@click.argument("env", required=False, type=click.Path())
@need_options
@click.option("--vscode", is_flag=True,
              help="Set python.defaultInterpreterPath in .vscode/settings.json (comments kept).")
@click.option("--link", metavar="PATH", default=None,
              help="Make PATH (relative to the project root, e.g. .venv) a link to the env; an "
              "env already there is moved aside to PATH.venvsel-backup, never deleted.")
@click.option("--direnv", is_flag=True, help="Write an .envrc that activates through venvsel.")
@click.option("--undo", is_flag=True,
              help="Undo the last `venvsel use` here: restore exactly what was there.")
@click.option("--timeout", type=click.FloatRange(0.1), default=None,
              help="Seconds the confirming live probe may take (default 30).")
@json_option
def use(env: str | None, needs: tuple[str, ...], python_spec: str | None, vscode: bool,
        link: str | None, direnv: bool, undo: bool, timeout: float | None,
        as_json: bool) -> Result:
    """Pin this project to the env that fits: record its needs and the chosen env (ENV, or
    the best one for --need) in pyproject.toml [tool.venvsel] (else .venvsel.toml). Then
    `venvsel activate`, `pick`, `run` and `bench` with no --need use them here, and
    --vscode / --link / --direnv point editors and tools at the same env. With no --need,
    the needs already recorded are kept (run it again to re-pick and re-record).

    \b
    Examples:
      venvsel use --need cuda --vscode --link .venv
      venvsel use .venv310 --direnv       # this env, whatever it has
      eval "$(venvsel activate)"          # then: the project's env
      venvsel status                      # which env, and is it still valid
      venvsel use --undo                  # everything back as it was
    """
    from .errors import UsageError
    from .views import UndoOutput, UseOutput

    if undo:
        if env or needs or python_spec or vscode or link or direnv:
            raise UsageError("--undo takes no ENV or other options.")
        from .use import undo as do_undo

        return UndoOutput(do_undo())
    from .use import use_env

    return UseOutput(use_env(env, needs, python_spec, vscode=vscode, link=link, direnv=direnv,
                             timeout=timeout))


@cli.command(short_help="Which env this directory resolves to, and is it still valid.")
@click.option("--short", is_flag=True,
              help="One word for a shell prompt: the env's name, with (changed) or (missing).")
@json_option
def status(short: bool, as_json: bool) -> Result:
    """Which env this directory resolves to and why: the project's recorded needs and env,
    and whether that env is still valid (deleted? changed since it was chosen?). Reads files
    only, starts nothing: fast enough for a shell prompt. Exit 1 when the recorded env is
    gone, broken or untrusted. Also available as `venvsel which`.

    \b
    Examples:
      venvsel status
      venvsel which --short             # e.g. in PS1: .venv310
      venvsel status --json | jq .data.state
    """
    from .resolve import status as do_status
    from .views import StatusOutput

    return StatusOutput(do_status(), short=short)


# `which` is `status` under another name; its own summary line says so in --help.
which = copy.copy(status)
which.short_help = "Same as `venvsel status`."
cli.add_command(which, name="which")


# ---- activate / deactivate / shell-hook / run (shells helper) --------------------------------

SHELL_CHOICES = SHELLS  # the one list: venvsel/shellnames.py


def shell_option(f: F) -> F:
    return click.option(
        "--shell", type=click.Choice(SHELL_CHOICES), default=None,
        help="Shell to write code for (default: the parent shell, then $SHELL).",
    )(f)


@cli.command(short_help="Print the shell code that activates an env.")
@click.argument("env_arg", metavar="[ENV]", required=False, type=click.Path())
@need_options
@shell_option
@click.option("--prompt", default=None, metavar="NAME",
              help="Name shown in the prompt (default: pyvenv.cfg's prompt, else the dir name).")
@verbose_option
@json_option
def activate(env_arg: str | None, needs: tuple[str, ...], python_spec: str | None,
             shell: str | None, prompt: str | None, as_json: bool) -> Result:
    """Print the code that activates an env in your shell: deactivates the active env, sets
    VIRTUAL_ENV (CONDA_PREFIX for conda envs), puts its bin dir first on PATH, unsets
    PYTHONHOME, prefixes the prompt and defines `deactivate`, which restores exactly what was
    there. ENV is a path; without it the env is picked by --need/--python. Paths a shell cannot
    hold safely are refused (exit 2) and nothing is printed.

    \b
    Examples:
      eval "$(venvsel activate .venv310)"                        # bash, zsh, sh
      eval "$(venvsel activate --need cuda)"
      venvsel activate --need cuda --shell fish | source         # fish
      venvsel activate --shell pwsh .venv | Out-String | Invoke-Expression
      venvsel shell-hook bash        # then plain `venvsel activate ENV` works (see shell-hook)
    """
    from .shells import activation
    from .views import ShellCodeOutput

    return ShellCodeOutput.activation(activation(env_arg, needs, python_spec, shell=shell,
                                                 prompt=prompt))


@cli.command(short_help="Print the shell code that leaves the active env.")
@shell_option
@json_option
def deactivate(shell: str | None, as_json: bool) -> Result:
    """Print the code that leaves the active env and restores the variables and prompt that
    were there before `venvsel activate` (also from a child shell, where the `deactivate`
    function does not exist). Prints nothing when no env is active.

    \b
    Examples:
      eval "$(venvsel deactivate)"
      venvsel deactivate --shell fish | source
    """
    from .shells import deactivation
    from .views import ShellCodeOutput

    return ShellCodeOutput.deactivation(deactivation(shell=shell))


@cli.command("shell-hook", short_help="Print the shell function and completion for your rc file.")
@click.argument("shell", type=click.Choice(HOOK_SHELLS))
@click.option("--no-completion", is_flag=True, help="Leave out tab completion.")
@click.option("--auto", is_flag=True,
              help="Also activate a project's env on cd into it, and leave it on cd out "
              "(bash, zsh, fish, pwsh).")
@json_option
def shell_hook(shell: str, no_completion: bool, auto: bool, as_json: bool) -> Result:
    """Print the shell hook: a `venvsel` shell function that makes `venvsel activate ...` and
    `venvsel deactivate` change the current shell, plus tab completion (bash, zsh, fish).
    The hook calls venvsel by the absolute path it was loaded from, so it keeps working in
    envs that do not hold venvsel. With --auto, entering a project activates its env (the
    one `venvsel use` recorded, else its .venv) and leaving it restores what was there; an
    env you activated yourself is never replaced.

    \b
    Examples:
      eval "$(venvsel shell-hook bash)"                   # in ~/.bashrc
      eval "$(venvsel shell-hook bash --auto)"            # ... and envs follow cd
      eval "$(venvsel shell-hook zsh)"                    # in ~/.zshrc, after compinit
      eval "$(venvsel shell-hook sh)"                     # dash, ash, mksh: in ~/.profile
      venvsel shell-hook fish | source                    # in ~/.config/fish/config.fish
      venvsel shell-hook pwsh | Out-String | Invoke-Expression    # in $PROFILE
      venvsel shell-hook cmd > %USERPROFILE%\\venvsel.bat  # cmd.exe: a helper batch file
    """
    from .shells import ShellCode, hook
    from .views import ShellCodeOutput

    text = hook(shell, command=cli, completion=not no_completion, auto=auto)
    return ShellCodeOutput.hook(ShellCode(shell=shell, code=text, env=None))


@cli.command("auto", hidden=True)
@click.option("--shell", required=True, type=click.Choice(AUTO_SHELLS))
@click.option("--active", default="", help="The env auto-activation activated before.")
def auto_cmd(shell: str, active: str) -> Result:
    """What the --auto hook runs when the directory changed: code that activates the env of
    the project here, or leaves the one auto-activation put there (see `shell-hook --auto`).
    """
    from .auto import main as auto_main
    from .views import ExitOutput

    return ExitOutput("auto", auto_main(["--shell", shell, "--active", active]))


@cli.command(short_help="Run a command inside an env without activating it.",
             context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--env", "env_arg", metavar="ENV", default=None,
              help="The env to run in (a path). Default: picked by --need/--python.")
@need_options
@verbose_option
@json_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(env_arg: str | None, needs: tuple[str, ...], python_spec: str | None, as_json: bool,
        command: tuple[str, ...]) -> Result:
    """Run CMD inside an env, exactly as if it were activated, without touching your shell.
    stdin/stdout/stderr pass through; SIGTERM/SIGHUP (and Ctrl-C not sent by the terminal)
    are forwarded to CMD. The exit status is CMD's, 128+N when signal N killed it, 127 when
    CMD is not found on the env's PATH, 126 when it cannot be executed.

    \b
    Examples:
      venvsel run --need cuda -- python scripts/compare_q4_vs_q8.py --gpu
      venvsel run --env .venv310 -- python -c "import torch; print(torch.__version__)"
      venvsel run --need torch --json -- pytest -q     # envelope printed after CMD exits
    """
    from .runenv import run_in
    from .views import RunOutput

    return RunOutput(run_in(env_arg, needs, python_spec, command))


# ---- trust / untrust (trust helper) --------------------------------------------------------

@cli.command(short_help="Trust envs that fail venvsel's trust rule (or list them).")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--list", "as_list", is_flag=True, help="List the envs trusted with this command.")
@json_option
def trust(paths: tuple[str, ...], as_list: bool, as_json: bool) -> Result:
    """Trust envs that fail venvsel's trust rule (someone else owns them, or group/others can
    write them), so that venvsel may probe, choose and run them. The trust lapses as soon as
    the owner or mode of any checked path changes (then run this again). See README "Trust".

    
    Examples:
      venvsel trust /shared/envs/team-cuda
      venvsel trust --list
      venvsel untrust /shared/envs/team-cuda
    """
    from .errors import UsageError
    from .trust import trust_env, trusted_list
    from .views import TrustListOutput, TrustOutput

    if as_list:
        if paths:
            raise UsageError("--list takes no PATH.")
        return TrustListOutput(tuple(trusted_list()))
    if not paths:
        raise UsageError("which env? e.g. `venvsel trust .venv`, or `venvsel trust --list`.")
    from .discover import env_from_path

    envs = [env_from_path(p) for p in paths]  # all of them valid before recording any
    return TrustOutput(tuple(trust_env(env) for env in envs))


@cli.command(short_help="Forget `venvsel trust PATH`.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option
def untrust(paths: tuple[str, ...], as_json: bool) -> Result:
    """Forget `venvsel trust PATH`: venvsel's trust rule alone decides again.

    
    Examples:
      venvsel untrust /shared/envs/team-cuda
    """
    from .trust import untrust as do_untrust
    from .views import UntrustOutput

    return UntrustOutput({p: do_untrust(p) for p in paths})


# ---- repair (repair helper) ----------------------------------------------------------------

@cli.command(short_help="Install the right PyTorch wheels into an env, with rollback.")
@click.argument("env", required=False, type=click.Path())
@click.option("--dry-run", is_flag=True, help="Diagnose and print the plan; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--backend", default="auto", show_default=True, metavar="NAME",
              help="auto, cpu, cu118, cu121, cu124, cu126, cu128, cu129 or cu130.")
@click.option("--index-url", default=None, metavar="URL",
              help="Fetch the PyTorch family from this index (a mirror) instead.")
@click.option("--find-links", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="Fetch the PyTorch family from wheels in DIR (offline; alone unless "
              "--index-url is given too).")
@click.option("--rebuild", is_flag=True,
              help="Recreate the env with virtualenv even if it is healthy.")
@click.option("--python", "python", default=None, metavar="PY",
              help="Base interpreter for a rebuild (default: the env's own base).")
@click.option("--with-llama/--no-llama", "with_llama", default=None,
              help="Rebuild llama-cpp-python with CUDA (default: on when the env has it and "
              "the backend is CUDA).")
@click.option("--installer", type=click.Choice(["auto", "pip", "uv"]), default="auto",
              show_default=True, help="Who installs: pip (ensurepip if missing) or uv.")
@click.option("--discard-backup", is_flag=True,
              help="Delete the backup after a verified repair (kept by default).")
@click.option("--recover", is_flag=True,
              help="Only finish interrupted repairs: put back the env they moved aside.")
@json_option
def repair(env: str | None, dry_run: bool, yes: bool, backend: str, index_url: str | None,
           find_links: str | None, rebuild: bool, python: str | None, with_llama: bool | None,
           installer: str, discard_backup: bool, recover: bool, as_json: bool) -> Result:
    """Repair ENV: install the PyTorch wheels matched to this machine's driver and GPUs,
    verify with a live probe, and never lose the env (it is restored exactly on any failure,
    Ctrl-C or SIGTERM; exit 3).

    Three stages: diagnose (what is wrong, in words), plan (numbered steps with the exact
    commands; --dry-run stops here), execute (progress per step, a transcript log).

    \b
    Examples:
      venvsel repair .venv --dry-run            # what is wrong and what would be done
      venvsel repair .venv                      # CUDA wheels matched to the driver
      venvsel repair .venv --backend cu126 --yes
      venvsel repair .venv --backend cu130 --index-url https://mirror.example/simple
      venvsel repair .venv --rebuild --python ~/.pyenv/versions/3.11.7/bin/python3.11
      venvsel repair --recover                  # put back envs of an interrupted repair
    """
    from .errors import UsageError
    from .repair import RepairRequest, run_repair
    from .views import RepairOutput

    def say(text: str) -> None:
        click.echo(text, err=as_json)

    def confirm(plan: object) -> bool:
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to change the env without confirmation: stdin is not a terminal.",
                hint="Read the plan above (or run with --dry-run), then run again with --yes.",
            )
        return click.confirm("Go ahead?", default=False, err=as_json)

    req = RepairRequest(env=env, backend=backend, index_url=index_url, find_links=find_links,
                        rebuild=rebuild, python=python, with_llama=with_llama,
                        installer=installer, dry_run=dry_run, yes=yes,
                        discard_backup=discard_backup, recover=recover)
    return RepairOutput(run_repair(req, confirm=confirm, say=say), env_arg=env)


# ---- fleet (Slurm helper) ------------------------------------------------------------------

@cli.group(short_help="Run doctor or scan on every node of a Slurm cluster, merged.")
def fleet() -> None:
    """Run `venvsel doctor` or `scan` on every node of a Slurm cluster through one srun step
    (one task per node) and merge what the nodes say into one view.

    \b
    Examples:
      venvsel fleet doctor --nodes 4 --partition gpu --gpus-per-node 1
      venvsel fleet doctor --nodelist 'gpu[01-08]' --json > fleet.json
      venvsel fleet scan -N 2 --root ~/proj -- --account=ml --exclusive
    """


def fleet_options(f: F) -> F:
    for opt in reversed([
        click.option("--nodes", "-N", metavar="N[-M]", default=None,
                     help="srun --nodes: how many nodes (one task each). Without it or "
                     "--nodelist, srun's default: one node."),
        click.option("--partition", "-p", default=None, help="srun --partition."),
        click.option("--nodelist", "-w", metavar="LIST", default=None,
                     help="srun --nodelist, e.g. 'gpu[01-04]'."),
        click.option("--gpus-per-node", metavar="[TYPE:]N", default=None,
                     help="srun --gpus-per-node: on clusters that fence GPUs per job, a task "
                     "sees only the GPUs it was given."),
        click.option("--root", "roots", multiple=True, type=click.Path(),
                     help="Where each node looks for project envs (default: the current "
                     "directory). Repeatable."),
        click.option("--node-timeout", type=click.FloatRange(1), default=300, show_default=True,
                     help="Seconds one node may take; a node past it is a row with the reason."),
        click.option("--queue-timeout", type=click.FloatRange(1), default=60, show_default=True,
                     help="Seconds to wait for the nodes to be free (srun --immediate)."),
        click.option("--timeout", type=click.FloatRange(0.1), default=None,
                     help="Seconds one live probe may take on a node (default 30)."),
        click.option("--refresh", is_flag=True, help="Ignore the cache and probe every env again."),
        click.option("--venvsel", "venvsel_cmd", metavar="CMD", default=None,
                     help="How a node starts venvsel (default: this python -m venvsel)."),
        json_option,
        click.argument("srun_args", nargs=-1, type=click.UNPROCESSED),
    ]):
        f = opt(f)
    return f


def _fleet(command: str, srun_args: tuple[str, ...], roots: tuple[str, ...],
           venvsel_cmd: str | None, **kw: Any) -> Result:
    from .fleet import FleetRequest, parse_venvsel
    from .fleet import fleet as do_fleet
    from .views import FleetOutput

    return FleetOutput(do_fleet(FleetRequest(command=command, roots=roots, srun_args=srun_args,
                                             venvsel=parse_venvsel(venvsel_cmd), **kw)))


@fleet.command("doctor", short_help="`venvsel doctor` on every node, merged.",
               context_settings={"ignore_unknown_options": True})
@fleet_options
def fleet_doctor(srun_args: tuple[str, ...], nodes: str | None, partition: str | None,
                 nodelist: str | None, gpus_per_node: str | None, roots: tuple[str, ...],
                 node_timeout: float, queue_timeout: float, timeout: float | None,
                 refresh: bool, venvsel_cmd: str | None, as_json: bool) -> Result:
    """`venvsel doctor` on every node (one srun step, one task per node), merged: per node
    the driver, the newest CUDA it runs and its GPUs; per env (by path) the nodes where it
    runs CUDA and why not on the others. Arguments after `--` go to srun verbatim. Exit 1
    when a node fails or an env fails on a node where it should work; 3 when srun ran nothing.

    \b
    Examples:
      venvsel fleet doctor -N 4 -p gpu --gpus-per-node 1
      venvsel fleet doctor -w 'gpu[01-02]' --json | jq '.data.envs[] | {label, cuda_on}'
      venvsel fleet doctor -N 2 -- --account=ml --qos=debug
    """
    return _fleet("doctor", srun_args, roots, venvsel_cmd, nodes=nodes, partition=partition,
           nodelist=nodelist, gpus_per_node=gpus_per_node, node_timeout=node_timeout,
           queue_timeout=queue_timeout, probe_timeout=timeout, refresh=refresh)


@fleet.command("scan", short_help="`venvsel scan` on every node, merged.",
               context_settings={"ignore_unknown_options": True})
@fleet_options
def fleet_scan(srun_args: tuple[str, ...], nodes: str | None, partition: str | None,
               nodelist: str | None, gpus_per_node: str | None, roots: tuple[str, ...],
               node_timeout: float, queue_timeout: float, timeout: float | None,
               refresh: bool, venvsel_cmd: str | None, as_json: bool) -> Result:
    """`venvsel scan` on every node (one srun step, one task per node), merged like
    `fleet doctor`. Arguments after `--` go to srun verbatim.

    \b
    Examples:
      venvsel fleet scan -N 2 --root ~/proj
    """
    return _fleet("scan", srun_args, roots, venvsel_cmd, nodes=nodes, partition=partition,
           nodelist=nodelist, gpus_per_node=gpus_per_node, node_timeout=node_timeout,
           queue_timeout=queue_timeout, probe_timeout=timeout, refresh=refresh)


def main(argv: list[str] | None = None) -> int:
    """Entry point: the one place errors become messages and exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or bool(
        os.environ.get("VENVSEL_DEBUG")
    )
    try:
        rv = cli.main(args=argv, prog_name="venvsel", standalone_mode=False)
    except VenvselError as err:
        click.echo(f"venvsel: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("venvsel: interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("venvsel: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except BrokenPipeError:
        # `venvsel scan | head`: the reader went away; not an error worth a traceback.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except Exception as exc:
        if debug:
            raise  # --debug: the traceback on stderr (DESIGN.md)
        from .crash import report

        return report(exc, argv if argv is not None else sys.argv[1:])
    return int(rv or 0)



def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
