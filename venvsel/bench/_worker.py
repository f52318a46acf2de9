"""venvsel bench worker: runs INSIDE the env being benchmarked, with that env's interpreter.

Needs only the standard library and llama_cpp; any CPython >= 3.8. Started as
``python -I _worker.py JOB.json``. The job names the files to use:

* ``log``: file descriptor 2 is pointed at it before llama_cpp is imported, and llama.cpp's
  log callback writes every message (all levels, DEBUG included: the per-layer placement
  lines are DEBUG) straight into it with os.write, so the log survives a crash intact.
* ``result``: the result JSON, written with a temp file and a rename. Stdout is never used
  for results (a library may print anything there).

Lines starting with ``[venvsel-worker]`` in the log mark the phase the worker reached, so a
crash can be placed ("crashed while loading the model").

Measures like llama-bench: for each test of the job (pp: a prompt of n_prompt tokens; tg:
n_gen single-token decodes; pg: both, timed together) a fresh context of n_prompt + n_gen
cells on the loaded model, a warm-up, then ``reps`` repetitions with the memory (KV cache)
cleared before each, timed in nanoseconds. The settings not given in the job are left to
``llama_cpp.Llama()``'s defaults in this env, and reported. Then, optionally, the seed's job:
a prompt cut from a document, ``e2e_gen`` generated tokens with EOS forbidden, timed end
to end through the high-level ``Llama.create_completion`` as a user's script would call it.
"""

import ctypes
import json
import os
import random
import sys
import time
import traceback

_CALLBACK = None  # the ctypes callback must stay referenced or llama.cpp calls freed memory
MARK = "[venvsel-worker]"


def phase(name):
    os.write(2, ("%s phase=%s\n" % (MARK, name)).encode())


def write_result(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def redirect_stderr(log_path):
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def install_log_callback(llama_cpp):
    """Send every llama.cpp/ggml log message, whatever its level, to fd 2 (the log file)."""
    global _CALLBACK
    cb_type = getattr(llama_cpp, "llama_log_callback", None)
    if cb_type is None or not hasattr(llama_cpp, "llama_log_set"):
        return False

    def _cb(level, text, user_data):
        if text:
            try:
                os.write(2, text)
            except OSError:
                pass

    _CALLBACK = cb_type(_cb)
    llama_cpp.llama_log_set(_CALLBACK, ctypes.c_void_p(0))
    return True


def build_info(llama_cpp):
    info = {"llama_version": getattr(llama_cpp, "__version__", None), "python": sys.version.split()[0]}
    try:
        info["gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as exc:  # very old builds
        info["gpu_offload"] = None
        info["gpu_offload_error"] = str(exc)
    try:
        raw = llama_cpp.llama_print_system_info()
        info["system_info"] = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()
    except Exception:
        info["system_info"] = None
    return info


def ggml_info(llama_cpp):
    """What llama-bench reports about the build and devices, through ggml's own C API (found
    beside libllama in the same process): build_commit, backends, cpu_info, gpu_info."""
    info = {"build_commit": None, "backends": None, "cpu_info": None, "gpu_info": None}
    lib = getattr(getattr(llama_cpp, "llama_cpp", None), "_lib", None)
    if lib is None:
        return info

    def f(name, restype, *argtypes):
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)
        return fn

    def text(raw):
        return raw.decode("utf-8", "replace") if raw else ""

    vp = ctypes.c_void_p
    try:
        info["build_commit"] = text(f("ggml_commit", ctypes.c_char_p)())
    except Exception:
        pass
    try:
        reg_count = f("ggml_backend_reg_count", ctypes.c_size_t)
        reg_get = f("ggml_backend_reg_get", vp, ctypes.c_size_t)
        reg_name = f("ggml_backend_reg_name", ctypes.c_char_p, vp)
        reg_dev_count = f("ggml_backend_reg_dev_count", ctypes.c_size_t, vp)
        names, rpc = [], False
        for i in range(reg_count()):
            reg = reg_get(i)
            name = text(reg_name(reg))
            if name.startswith("RPC"):
                rpc = rpc or reg_dev_count(reg) > 0
            elif name != "CPU":
                names.append(name)
        if rpc:
            names.append("RPC")
        info["backends"] = ",".join(names) or "CPU"
        dev_count = f("ggml_backend_dev_count", ctypes.c_size_t)
        dev_get = f("ggml_backend_dev_get", vp, ctypes.c_size_t)
        dev_type = f("ggml_backend_dev_type", ctypes.c_int, vp)
        dev_desc = f("ggml_backend_dev_description", ctypes.c_char_p, vp)
        cpus, gpus = [], []
        for i in range(dev_count()):
            dev = dev_get(i)
            t = dev_type(dev)
            if t in (0, 3):  # CPU, ACCEL
                cpus.append(text(dev_desc(dev)))
            elif t in (1, 2):  # GPU, IGPU
                gpus.append(text(dev_desc(dev)))
        info["cpu_info"] = ", ".join(cpus)
        info["gpu_info"] = ", ".join(gpus)
    except Exception as exc:
        info["error"] = "%s: %s" % (type(exc).__name__, exc)
    return info


def llama_defaults(llama_cpp):
    """The defaults of ``llama_cpp.Llama()`` in this env, read from its signature."""
    import inspect  # the worker runs in the benched env: it imports what each step needs

    try:
        sig = inspect.signature(llama_cpp.Llama.__init__)
    except (TypeError, ValueError, AttributeError):
        return {}
    out = {}
    for name in ("n_gpu_layers", "n_ctx", "n_batch", "n_ubatch", "n_threads", "n_threads_batch",
                 "flash_attn", "type_k", "type_v", "offload_kqv", "use_mmap"):
        p = sig.parameters.get(name)
        if p is not None and p.default is not inspect.Parameter.empty:
            d = p.default
            out[name] = d if isinstance(d, (bool, int, float, str, type(None))) else repr(d)
    return out


def supports_fa_auto(llama_cpp):
    """llama.cpp has LLAMA_FLASH_ATTN_TYPE_AUTO and its context params the field for it."""
    params = getattr(llama_cpp, "llama_context_params", None)
    fields = [f[0] for f in getattr(params, "_fields_", ())]
    return hasattr(llama_cpp, "LLAMA_FLASH_ATTN_TYPE_AUTO") and "flash_attn_type" in fields


class _FaAuto(object):
    """Llama() takes flash_attn as a bool only; for ``auto`` the context it creates gets
    LLAMA_FLASH_ATTN_TYPE_AUTO, set on its params just before llama.cpp reads them."""

    def __init__(self, llama_cpp):
        # the benched env's llama_cpp, imported when the step runs
        from llama_cpp import llama as llama_mod

        self.ll = llama_cpp
        self.internals = llama_mod.internals
        self.orig = None

    def __enter__(self):
        orig = self.orig = self.internals.LlamaContext
        auto = self.ll.LLAMA_FLASH_ATTN_TYPE_AUTO

        def make(*args, **kwargs):
            params = kwargs.get("params")
            if params is not None:
                params.flash_attn_type = auto
            return orig(*args, **kwargs)

        self.internals.LlamaContext = make
        return self

    def __exit__(self, *exc):
        self.internals.LlamaContext = self.orig


def _fn(llama_cpp, *names):
    for n in names:
        f = getattr(llama_cpp, n, None)
        if f is not None:
            return f
    return None


_BATCH_FIELDS = ("n_tokens", "token", "embd", "pos", "n_seq_id", "seq_id", "logits")


def load_tg_loop(llama_cpp, path):
    """The C tg loop venvsel built (``tgloop.c``), ready to call: (function, None), or
    (None, why not) and the Python loop runs. It is used only where llama_cpp's llama_batch
    is the struct the C file declares and llama_decode is a plain foreign function."""
    batch_t = getattr(llama_cpp, "llama_batch", None)
    fields = tuple(f[0] for f in getattr(batch_t, "_fields_", ()))
    if fields != _BATCH_FIELDS:
        return None, "this llama_cpp's llama_batch has other fields: %s" % (fields,)
    try:
        decode_p = ctypes.cast(llama_cpp.llama_decode, ctypes.c_void_p).value
        sync = _fn(llama_cpp, "llama_synchronize")
        sync_p = ctypes.cast(sync, ctypes.c_void_p).value if sync is not None else None
    except (ctypes.ArgumentError, TypeError, AttributeError) as exc:
        return None, "llama_decode is not a plain foreign function here (%s)" % exc
    try:
        lib = ctypes.CDLL(path)
        size = lib.venvsel_tgloop_batch_size
        loop = lib.venvsel_tg_loop
    except (OSError, AttributeError) as exc:
        return None, "could not load %s: %s" % (path, exc)
    size.restype = ctypes.c_size_t
    if size() != ctypes.sizeof(batch_t):
        return None, "llama_batch is %d bytes here, %d in the C loop" % (
            ctypes.sizeof(batch_t), size())
    loop.restype = ctypes.c_int
    loop.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 2 + [ctypes.c_void_p] * 2

    def run(ctx, batch, tokens, start):
        arr = (ctypes.c_int32 * len(tokens))(*tokens)
        return loop(ctx, ctypes.addressof(batch), ctypes.addressof(arr), len(tokens), start,
                    decode_p, sync_p)

    return run, None


def choose_tg_loop(llama_cpp, job, out):
    """The job's C tg loop when it can run here, else None (the Python loop); ``out`` gets
    which one and why. With --tg-loop c (``tg_loop_required``) a loop that cannot run fails
    the run instead."""
    loop, why = None, job.get("tg_loop_note") or "no C loop was built"
    if job.get("tg_loop_lib"):
        loop, why = load_tg_loop(llama_cpp, job["tg_loop_lib"])
        if loop is None and job.get("tg_loop_required"):
            raise RuntimeError("--tg-loop c: the C tg loop cannot run here: %s" % why)
    out["tg_loop"] = "c" if loop is not None else "python"
    out["tg_loop_note"] = job.get("tg_loop_note") if loop is not None else why
    return loop


class Decoder(object):
    """The llama-bench loops on a raw context, one reusable batch, no sampling."""

    def __init__(self, llama_cpp, llm, n_batch, seed, ctx=None, tg_loop=None):
        self.ll = llama_cpp
        self.tg_loop = tg_loop  # the C loop from load_tg_loop, or None: the Python loop
        self.ctx = ctx or llm.ctx
        self.n_batch = n_batch
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.n_vocab = llm.n_vocab()
        self.bos = llm.token_bos()
        self.rng = random.Random(seed)
        self.sync = _fn(llama_cpp, "llama_synchronize")
        get_memory = _fn(llama_cpp, "llama_get_memory")
        memory_clear = _fn(llama_cpp, "llama_memory_clear")
        pos_max = _fn(llama_cpp, "llama_memory_seq_pos_max")
        self.pos_max = None
        if get_memory is not None and memory_clear is not None:
            mem = get_memory(self.ctx)
            self._clear = lambda: memory_clear(mem, True)
            self.clear_api = "llama_memory_clear"
            if pos_max is not None:
                self.pos_max = lambda: pos_max(mem, 0)
        else:
            old = _fn(llama_cpp, "llama_kv_self_clear", "llama_kv_cache_clear")
            if old is None:
                raise RuntimeError("this llama_cpp exposes no way to clear the KV cache")
            self._clear = lambda: old(self.ctx)
            self.clear_api = old.__name__

    def clear(self):
        self._clear()

    def _decode(self, n):
        self.batch.n_tokens = n
        rc = self.ll.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise RuntimeError("llama_decode returned %d" % rc)
        if self.sync is not None:
            self.sync(self.ctx)

    def prompt_tokens(self, n_prompt):
        """The tokens of a pp test, drawn before timing starts: BOS, then random ids, in a
        C array (llama-bench fills its batch in C: a per-token Python loop inside the timed
        region would cost a few per cent on a small model)."""
        arr = (ctypes.c_int32 * max(1, n_prompt))()
        if n_prompt:
            arr[0] = self.bos
            for i in range(1, n_prompt):
                arr[i] = self.rng.randrange(self.n_vocab)
        return arr

    def ready(self):
        """Before timing: the batch fields that are the same for every prompt chunk (one
        sequence, id 0, no output but the chunk's last token), set once."""
        if getattr(self, "_filled", False):
            return
        b = self.batch
        for i in range(self.n_batch):
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 0
        self._filled = True

    def _positions(self, n):
        """Positions 0..n-1 in a C array (kept: the same for every repetition)."""
        arr = getattr(self, "_pos_arr", None)
        if arr is None or len(arr) < n:
            arr = self._pos_arr = (ctypes.c_int32 * n)(*range(n))
        return arr

    def prompt(self, n_prompt, tokens=None):
        """Decode n_prompt tokens (random unless given) in batches of n_batch from position 0.

        Each chunk is copied into the batch with memmove, not token by token in Python."""
        b = self.batch
        if tokens is None:
            tokens = self.prompt_tokens(n_prompt)
        self.ready()
        tok_src = ctypes.addressof(tokens)
        pos_src = ctypes.addressof(self._positions(n_prompt))
        token_dst = ctypes.cast(b.token, ctypes.c_void_p).value
        pos_dst = ctypes.cast(b.pos, ctypes.c_void_p).value
        logits = b.logits
        pos = 0
        while pos < n_prompt:
            n = min(self.n_batch, n_prompt - pos)
            ctypes.memmove(token_dst, tok_src + 4 * pos, 4 * n)
            ctypes.memmove(pos_dst, pos_src + 4 * pos, 4 * n)
            logits[n - 1] = 1
            self._decode(n)
            logits[n - 1] = 0
            pos += n

    def gen_tokens(self, n_gen):
        """The tokens a tg run feeds back: BOS, then random ids (drawn before timing starts)."""
        return [self.bos] + [self.rng.randrange(self.n_vocab) for _ in range(max(0, n_gen - 1))]

    def gen(self, tokens, start=0):
        """len(tokens) single-token decodes from position ``start``, like llama-bench's tg
        test (which continues after the prompt in a pp+tg test).

        The loop body is kept to what any decode loop must do (set token and position,
        decode, synchronise): its Python cost is the bench's overhead on small models.
        """
        b = self.batch
        b.n_tokens = 1
        b.n_seq_id[0] = 1
        b.seq_id[0][0] = 0
        b.logits[0] = 1  # (n_seq_id and seq_id as ready() sets them; logits[0] reset below)
        if self.tg_loop is not None:
            rc = self.tg_loop(self.ctx, b, tokens, start)
            b.logits[0] = 0
            if rc != 0:
                raise RuntimeError("llama_decode failed at position %d" % (start - 1 - rc))
            return
        token_arr, pos_arr = b.token, b.pos
        decode, ctx, sync = self.ll.llama_decode, self.ctx, self.sync
        for i, token in enumerate(tokens, start):
            token_arr[0] = token
            pos_arr[0] = i
            if decode(ctx, b) != 0:
                raise RuntimeError("llama_decode failed at position %d" % i)
            if sync is not None:
                sync(ctx)
        b.logits[0] = 0

    def close(self):
        if self.batch is not None:
            self.ll.llama_batch_free(self.batch)
            self.batch = None


def _now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_context(llama_cpp, llm, n_ctx):
    """A context of ``n_ctx`` cells on the loaded model, with every other parameter the
    Llama object's context got: llama-bench makes one per test, sized n_prompt + n_gen
    (the KV cache size decides how much attention work a step does). None when this
    llama_cpp cannot make one."""
    init = _fn(llama_cpp, "llama_init_from_model", "llama_new_context_with_model")
    src = getattr(llm, "context_params", None)
    if init is None or src is None or not hasattr(llama_cpp, "llama_free"):
        return None
    cp = type(src).from_buffer_copy(src)
    cp.n_ctx = n_ctx
    ctx = init(llm.model, cp)
    if not ctx:
        raise RuntimeError("llama.cpp could not create a context of %d tokens" % n_ctx)
    return ctx


def measure(llama_cpp, llm, n_batch, job, out, tg_loop=None):
    """Each test of the cell as llama-bench runs it: a warm-up (the full prompt for a test
    with a prompt, one token for a test with generation), then ``reps`` repetitions with the
    memory cleared before each; a repetition is the prompt then the generation, timed
    together. Tests in llama-bench's order: pp tests, tg tests, pg tests.

    Like llama-bench, which runs each test on its own: alternating a 512-token batch with
    single-token decodes would make every pp pay for the scheduler re-planning its graph
    (and lose the CUDA graphs of tg), which is not the speed of either.
    """
    reps = job["reps"]
    warmup = job.get("warmup", True)
    delay = job.get("delay") or 0
    tests = []
    warm = 0.0
    for n_prompt, n_gen in job["tests"]:
        test = {"n_prompt": n_prompt, "n_gen": n_gen, "test_time": _now_rfc3339(),
                "samples_ns": []}
        tests.append(test)
        ctx = new_context(llama_cpp, llm, n_prompt + n_gen)
        test["n_ctx"] = n_prompt + n_gen if ctx else llm.n_ctx()
        dec = Decoder(llama_cpp, llm, n_batch, job.get("seed", 0) + len(tests), ctx=ctx,
                      tg_loop=tg_loop)
        try:
            warm += _one_test(dec, test, n_prompt, n_gen, reps, warmup, delay)
        finally:
            dec.close()
            if ctx:
                llama_cpp.llama_free(ctx)
        out["clear_api"] = dec.clear_api
    out["warmup_s"] = warm
    out["tests"] = tests


def _one_test(dec, test, n_prompt, n_gen, reps, warmup, delay):
    """One test on its own context: delay, warm-up, then the timed repetitions."""
    warm = 0.0
    dec.clear()
    if delay:
        phase("delay")
        time.sleep(delay)
    if warmup:
        phase("warmup")
        t0 = time.perf_counter()
        if n_prompt > 0:
            dec.prompt(n_prompt)
        if n_gen > 0:
            dec.gen(dec.gen_tokens(1), start=n_prompt)
        warm += time.perf_counter() - t0
    for r in range(reps):
        phase("rep %d" % (r + 1))
        tokens = dec.gen_tokens(n_gen) if n_gen > 0 else None
        ptokens = dec.prompt_tokens(n_prompt) if n_prompt > 0 else None
        if ptokens is not None:
            dec._positions(n_prompt)
            dec.ready()
        dec.clear()
        t = time.perf_counter_ns()
        if ptokens is not None:
            dec.prompt(n_prompt, ptokens)
        if tokens:
            dec.gen(tokens, start=n_prompt)
        test["samples_ns"].append(time.perf_counter_ns() - t)
        if dec.pos_max is not None and dec.pos_max() != n_prompt + n_gen - 1:
            raise RuntimeError("a repetition left positions up to %d in the KV cache, not %d: "
                               "it did not decode every token" % (dec.pos_max(),
                                                                  n_prompt + n_gen - 1))
    return warm


def end_to_end(llm, dec, job, out):
    """The seed's job: a prompt from the document, N tokens generated, EOS forbidden."""
    phase("e2e")
    with open(job["doc"], "rb") as f:
        text = f.read().decode("utf-8", "replace")
    n_ctx = llm.n_ctx()
    n_gen = job["e2e_gen"]
    budget = max(1, n_ctx - n_gen - 8)
    t0 = time.perf_counter()
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)
    truncated = len(tokens) > budget
    tokens = tokens[:budget]
    fed = llm.detokenize(tokens).decode("utf-8", "replace")
    words = len(fed.split())
    dec.clear()
    llm.reset()
    eos = llm.token_eos()
    res = llm.create_completion(
        tokens, max_tokens=n_gen, temperature=0.0, logit_bias={eos: -1e9}, seed=job.get("seed", 0),
    )
    seconds = time.perf_counter() - t0
    usage = res.get("usage", {}) if isinstance(res, dict) else {}
    gen_tokens = usage.get("completion_tokens")
    out["e2e"] = {
        "doc": job["doc"],
        "doc_words": len(text.split()),
        "words": words,
        "prompt_tokens": len(tokens),
        "truncated": truncated,
        "gen_tokens": gen_tokens,
        "gen_requested": n_gen,
        "seconds": seconds,
        "words_per_s": words / seconds if seconds > 0 else None,
        "tokens_per_s": (len(tokens) + (gen_tokens or 0)) / seconds if seconds > 0 else None,
    }


def run(job):
    out = {"status": "error", "phase": "start", "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    result_path = job["result"]
    try:
        phase("import")
        out["phase"] = "import"
        try:
            import llama_cpp  # the benched env's llama_cpp, imported when the step runs
        except Exception as exc:
            out["status"] = "no-llama"
            out["error"] = "%s: %s" % (type(exc).__name__, exc)
            return out
        out["log_callback"] = install_log_callback(llama_cpp)
        out["build"] = build_info(llama_cpp)
        out["build"].update(ggml_info(llama_cpp))
        if job.get("mode") == "info":
            out["status"] = "ok"
            return out
        if (job.get("gpu_asked") and out["build"].get("gpu_offload") is False
                and not job.get("has_gpu_backend")):
            # A CPU-only build: answer before loading (such builds crash at load on some GPU
            # machines, and no load could change the answer). A build whose files hold a GPU
            # backend also says False when no device is visible (CUDA_VISIBLE_DEVICES=""):
            # that one loads, on the CPU, which is the silent fallback to show and measure.
            out["status"] = "fallback-preload"
            return out
        phase("load")
        out["phase"] = "load"
        out["defaults"] = llama_defaults(llama_cpp)
        out["fa_auto_supported"] = supports_fa_auto(llama_cpp)
        settings = job.get("settings") or {}
        # Only what the user set is passed: everything else is Llama()'s own default.
        kwargs = {"model_path": job["model"], "n_gpu_layers": job["n_gpu_layers"],
                  "n_ctx": job["n_ctx"], "seed": job.get("seed", 0), "verbose": True}
        for key in ("n_batch", "n_ubatch", "type_k", "type_v"):
            if settings.get(key) is not None:
                kwargs[key] = settings[key]
        if settings.get("threads") is not None:
            kwargs["n_threads"] = kwargs["n_threads_batch"] = settings["threads"]
        fa = settings.get("flash_attn")
        if fa in ("0", "1"):
            kwargs["flash_attn"] = fa == "1"
        elif fa == "auto" and not out["fa_auto_supported"]:
            out["status"] = "error"
            out["error"] = ("flash attention 'auto' needs a llama-cpp-python whose llama.cpp has "
                            "LLAMA_FLASH_ATTN_TYPE_AUTO; this one (%s) has not: use 0 or 1"
                            % out["build"].get("llama_version"))
            return out
        t = time.perf_counter()
        if fa == "auto":
            with _FaAuto(llama_cpp):
                llm = llama_cpp.Llama(**kwargs)
        else:
            llm = llama_cpp.Llama(**kwargs)
        out["load_s"] = time.perf_counter() - t
        phase("loaded")
        model = llm.model
        n_layer = _fn(llama_cpp, "llama_model_n_layer", "llama_n_layer")
        n_params = _fn(llama_cpp, "llama_model_n_params")
        size = _fn(llama_cpp, "llama_model_size")
        out["model_info"] = {
            "n_layer": n_layer(model) if n_layer else None,
            "n_params": n_params(model) if n_params else None,
            "size_bytes": size(model) if size else None,
            "n_vocab": llm.n_vocab(),
            "n_ctx": llm.n_ctx(),
        }
        cp = getattr(llm, "context_params", None)
        fa_type = getattr(cp, "flash_attn_type", None)
        if fa_type is None and cp is not None and hasattr(cp, "flash_attn"):
            fa_type = int(bool(cp.flash_attn))  # older llama.cpp: a bool
        out["used"] = {
            "n_batch": getattr(cp, "n_batch", None) if cp is not None else None,
            "n_ubatch": getattr(cp, "n_ubatch", None) if cp is not None else None,
            "n_threads": getattr(cp, "n_threads", None) if cp is not None else None,
            "n_threads_batch": getattr(cp, "n_threads_batch", None) if cp is not None else None,
            "type_k": getattr(cp, "type_k", None) if cp is not None else None,
            "type_v": getattr(cp, "type_v", None) if cp is not None else None,
            "flash_attn": fa_type,
            "n_ctx": llm.n_ctx(),
        }
        threads = out["used"]["n_threads"] or getattr(llm, "n_threads", None)
        out["threads"] = threads
        out["n_gpu_layers"] = job["n_gpu_layers"]
        n_batch = out["used"]["n_batch"] or getattr(llm, "n_batch", 512)
        out["n_batch"] = n_batch
        desc = _fn(llama_cpp, "llama_model_desc")
        if desc is not None:
            try:
                buf = ctypes.create_string_buffer(128)
                desc(model, buf, 128)
                out["model_info"]["model_type"] = buf.value.decode("utf-8", "replace")
            except Exception:
                pass
        tg_loop = choose_tg_loop(llama_cpp, job, out)
        out["phase"] = "measure"
        measure(llama_cpp, llm, n_batch, job, out, tg_loop)
        if job.get("doc") and job.get("e2e_gen", 0) > 0:
            out["phase"] = "e2e"
            dec = Decoder(llama_cpp, llm, n_batch, job.get("seed", 0))
            try:
                end_to_end(llm, dec, job, out)
            finally:
                dec.close()
        out["status"] = "ok"
        phase("done")
        return out
    except BaseException as exc:
        out["status"] = "error"
        out["error"] = "%s: %s" % (type(exc).__name__, exc)
        out["traceback"] = traceback.format_exc()[-4000:]
        return out
    finally:
        try:
            write_result(result_path, out)
        except Exception:
            traceback.print_exc()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: _worker.py JOB.json\n")
        return 2
    with open(argv[1]) as f:
        job = json.load(f)
    if job.get("log"):
        redirect_stderr(job["log"])
    out = run(job)
    sys.stderr.flush()
    return 0 if out.get("status") in ("ok", "no-llama", "fallback-preload") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
