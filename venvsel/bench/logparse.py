"""Where did the layers go? llama.cpp's own load log, read line by line, and the verdict.

The evidence, best first (ANCHORS.md):

* ``load_tensors: layer   0 assigned to device CUDA0, is_swa = 0`` (DEBUG level; older
  builds: prefix ``llm_load_tensors:`` and no ``is_swa``): one line per layer; layers
  ``0 .. n_layer-1`` are the repeating layers, layer ``n_layer`` is the output layer.
* ``CUDA0 model buffer size = 1234.00 MiB`` (older: ``CUDA0 buffer size``): weights really
  resident on a device.
* ``offloaded 37/37 layers to GPU``: the *requested* count, printed even when no device
  exists, so on its own it proves nothing; used only with the buffer lines.
* ``ggml_cuda_init: failed to initialize CUDA: ...`` / ``ggml_cuda_init: found N CUDA
  devices``: why a GPU build saw no device.

Pure functions over text: unit-tested on real logs in tests/fixtures/llama_logs/.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_LAYER = re.compile(
    r"(?:llm_)?load_tensors:\s+layer\s+(\d+)\s+assigned to device\s+([^\s,]+)"
    r"(?:,\s*is_swa\s*=\s*\d+)?"
)
_OFFLOADED = re.compile(r"offloaded\s+(\d+)\s*/\s*(\d+)\s+layers to GPU")
# Older builds print "CUDA0 buffer size", newer "CUDA0 model buffer size"; only the
# load_tensors prefix is taken, so KV, output and compute buffers never count as weights.
_BUFFER = re.compile(
    r"(?:llm_)?load_tensors:\s+(\S+)\s+(?:model\s+)?buffer size\s*=\s*([\d.]+)\s*MiB"
)
_CUDA_FAILED = re.compile(r"ggml_cuda_init:\s+failed to initialize (?:CUDA|ROCm|MUSA):\s*(.+)")
_CUDA_FOUND = re.compile(r"ggml_cuda_init:\s+found\s+(\d+)\s+(?:CUDA|ROCm|MUSA) devices")
_USING = re.compile(r"using device\s+(\S+)\s+\(([^)]*)\)")
_N_LAYER = re.compile(r"(?:print_info|llm_load_print_meta):\s+n_layer\s+=\s+(\d+)")
_FILE_TYPE = re.compile(r"(?:print_info|llm_load_print_meta):\s+file type\s+=\s+(\S+)")
_WORKER = "[venvsel-worker]"


def is_cpu_device(name: str) -> bool:
    """CPU, CPU_Mapped, CPU_REPACK, CPU_AARCH64 ... are host memory; so is CUDA_Host."""
    return name.upper().startswith("CPU") or name.endswith("_Host")


@dataclass(frozen=True)
class LoadLog:
    """The placement-relevant facts of one load log."""

    layers: tuple[tuple[int, str], ...] = ()  # (layer index, device) from per-layer lines
    n_layer: int | None = None  # repeating layers, from print_info
    offloaded: tuple[int, int] | None = None  # "offloaded X/Y layers to GPU"
    buffers: tuple[tuple[str, float], ...] = ()  # model buffer name, MiB
    cuda_error: str | None = None  # "no CUDA-capable device is detected"
    cuda_devices: int | None = None  # "found N CUDA devices"
    devices_used: tuple[str, ...] = ()  # "CUDA0 (NVIDIA H200)"
    last_phase: str | None = None  # the worker's last phase marker
    file_type: str | None = None  # "Q4_0", as print_info names the model's quantisation

    @property
    def gpu_buffer_mib(self) -> float:
        return sum(size for name, size in self.buffers if not is_cpu_device(name))


def parse_phase(text: str) -> str | None:
    """The worker's last phase marker in a (possibly still growing) log."""
    i = text.rfind(_WORKER + " phase=")
    if i < 0:
        return None
    return text[i + len(_WORKER) + len(" phase="):].split("\n", 1)[0].strip() or None


def parse(text: str) -> LoadLog:
    layers: dict[int, str] = {}
    n_layer = offloaded = cuda_error = cuda_devices = last_phase = file_type = None
    buffers: list[tuple[str, float]] = []
    used: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(_WORKER):
            last_phase = line.partition("phase=")[2] or last_phase
            continue
        m = _LAYER.search(line)
        if m:
            layers[int(m.group(1))] = m.group(2)
            continue
        m = _BUFFER.search(line)
        if m:
            buffers.append((m.group(1), float(m.group(2))))
            continue
        m = _OFFLOADED.search(line)
        if m:
            offloaded = (int(m.group(1)), int(m.group(2)))
            continue
        m = _N_LAYER.search(line)
        if m and n_layer is None:
            n_layer = int(m.group(1))
            continue
        m = _FILE_TYPE.search(line)
        if m and file_type is None:
            file_type = m.group(1)
            continue
        m = _CUDA_FAILED.search(line)
        if m:
            cuda_error = m.group(1).strip()
            continue
        m = _CUDA_FOUND.search(line)
        if m:
            cuda_devices = int(m.group(1))
            continue
        m = _USING.search(line)
        if m:
            used.append(f"{m.group(1)} ({m.group(2)})")
    return LoadLog(
        layers=tuple(sorted(layers.items())), n_layer=n_layer, offloaded=offloaded,
        buffers=tuple(buffers), cuda_error=cuda_error, cuda_devices=cuda_devices,
        devices_used=tuple(used), last_phase=last_phase, file_type=file_type,
    )


@dataclass(frozen=True)
class Placement:
    """How many repeating layers each device holds, and what says so."""

    n_layer: int | None  # repeating layers in the model
    devices: tuple[tuple[str, int], ...]  # device -> repeating layers on it (per-layer evidence)
    gpu_layers: int | None  # repeating layers on a GPU device; None when unknown
    output_device: str | None  # the output layer's device, when the log says
    evidence: str  # which lines the numbers come from, in words
    buffers: tuple[tuple[str, float], ...] = ()

    @property
    def cpu_layers(self) -> int | None:
        if self.gpu_layers is None or self.n_layer is None:
            return None
        return self.n_layer - self.gpu_layers

    def summary(self) -> str:
        """"CPU 4/4", "CUDA0 36/36", "CUDA0 20/36, CPU 16/36", "GPU ?/36"."""
        n = self.n_layer if self.n_layer is not None else "?"
        if self.devices:
            return ", ".join(f"{d} {c}/{n}" for d, c in self.devices)
        if self.gpu_layers is None:
            return "unknown"
        parts = []
        if self.gpu_layers:
            gpu = next((b for b, _ in self.buffers if not is_cpu_device(b)), "GPU")
            parts.append(f"{gpu} {self.gpu_layers}/{n}")
        cpu = self.cpu_layers
        if cpu is None or cpu:
            parts.append(f"CPU {cpu if cpu is not None else '?'}/{n}")
        return ", ".join(parts)


def placement(log: LoadLog, n_layer: int | None = None) -> Placement:
    """Repeating layers per device from the best evidence the log has.

    ``n_layer`` (from the loaded model) wins over the log's print_info line.
    """
    n = n_layer if n_layer is not None else log.n_layer
    if log.layers:
        if n is None:  # the last per-layer line is the output layer
            n = max(i for i, _ in log.layers)
        per_dev: Counter[str] = Counter(dev for i, dev in log.layers if i < n)
        out_dev = next((dev for i, dev in log.layers if i == n), None)
        gpu = sum(c for d, c in per_dev.items() if not is_cpu_device(d))
        # GPU devices first, in name order, so "CUDA0 36/36" reads before "CPU 0/36".
        devices = tuple(sorted(per_dev.items(), key=lambda kv: (is_cpu_device(kv[0]), kv[0])))
        return Placement(n, devices, gpu, out_dev,
                         "per-layer load log lines (load_tensors: layer N assigned to device X)",
                         log.buffers)
    gpu_buffers = log.gpu_buffer_mib > 0
    if log.offloaded is not None:
        x, y = log.offloaded
        if n is None:
            n = y - 1
        # "offloaded X/Y" counts the output layer too, and prints what was requested:
        # only a GPU model buffer shows the layers really went there.
        gpu = min(n, max(0, x - 1)) if gpu_buffers else 0
        return Placement(n, (), gpu, None,
                         f"'offloaded {x}/{y} layers to GPU' with the model buffer sizes "
                         "(no per-layer lines in this build's log)", log.buffers)
    if log.buffers:
        if not gpu_buffers:
            return Placement(n, (), 0, None,
                             "model buffer sizes: host memory only (no per-layer lines)",
                             log.buffers)
        return Placement(n, (), None, None,
                         "a GPU model buffer, but no per-layer or offload lines", log.buffers)
    return Placement(n, (), None, None, "none: the load log has no placement lines", ())


# --------------------------------------------------------------------------- verdict

VERDICTS = ("GPU", "PARTIAL", "CPU", "FALLBACK", "UNKNOWN")


@dataclass(frozen=True)
class Judgement:
    verdict: str  # one of VERDICTS
    reason: str | None = None  # for FALLBACK / UNKNOWN: why, in words
    fix: str | None = None


def _hidden_devices(cvd: str | None) -> bool:
    return cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles")


def why_no_gpu(
    log: LoadLog, *, gpu_offload: bool | None, n_gpu_layers: int, cvd: str | None, env: str,
    gpu_layers: int = 0, has_backend: bool = False,
) -> tuple[str, str]:
    """(reason, fix) for layers that should be on a GPU and are not.

    ``llama_supports_gpu_offload()`` is False both for a CPU-only build and for a GPU build
    that sees no device; ``has_backend`` (a GPU backend library in the env's files) tells
    the two apart, and the load log's ``ggml_cuda_init`` line says why no device was seen.
    """
    shown_cvd = "unset" if cvd is None else repr(cvd)
    if gpu_offload is False and not has_backend:
        return ("CPU-only build (no GPU backend): this llama-cpp-python was built without "
                "CUDA, Metal, Vulkan or ROCm",
                f"venvsel repair {env}   (rebuilds llama-cpp-python with the GPU backend)\n"
                "or pick another env:  venvsel bench --need llama-gpu --gpu")
    if n_gpu_layers == 0:
        return ("n_gpu_layers is 0: no layer was asked to go to the GPU",
                "pass --n-gpu-layers -1 (all layers), or drop --n-gpu-layers 0")
    no_device = gpu_layers == 0 and bool(log.layers) and not log.devices_used
    if log.cuda_error or log.cuda_devices == 0 or no_device:
        what = (f"ggml_cuda_init: failed to initialize CUDA: {log.cuda_error}" if log.cuda_error
                else "the build found no GPU device")
        reason = f"no GPU device visible ({what}; CUDA_VISIBLE_DEVICES={shown_cvd})"
        if _hidden_devices(cvd):
            fix = "unset CUDA_VISIBLE_DEVICES (it hides every GPU), then run again"
        elif cvd is not None:
            fix = (f"check CUDA_VISIBLE_DEVICES={cvd!r} names a GPU that exists, "
                   "or unset it; venvsel doctor shows the GPUs and the driver")
        else:
            fix = "check the NVIDIA driver and the GPU: venvsel doctor"
        return reason, fix
    return ("some repeating layers stayed on the CPU (not enough free GPU memory, or the "
            "build cannot place them)",
            "lower --n-gpu-layers, use a smaller quantisation, or free GPU memory")


def judge(
    pl: Placement, log: LoadLog, *, gpu_asked: bool, n_gpu_layers: int,
    gpu_offload: bool | None, cvd: str | None, env: str, has_backend: bool = False,
) -> Judgement:
    """GPU / PARTIAL / CPU, or FALLBACK when a GPU was asked and the layers are on the CPU.

    ``n_gpu_layers`` < 0 or > n_layer means "all": then any repeating layer on the CPU is a
    fallback. A smaller count asks for a split: only "nothing on the GPU" is a fallback.
    """
    if pl.gpu_layers is None or pl.n_layer is None:
        if gpu_asked:
            return Judgement("UNKNOWN", f"cannot tell where the layers went ({pl.evidence})",
                             "run with --debug and look at the worker's log")
        return Judgement("UNKNOWN", f"cannot tell where the layers went ({pl.evidence})")
    gpu, n = pl.gpu_layers, pl.n_layer
    if gpu_asked:
        wants_all = n_gpu_layers < 0 or n_gpu_layers > n
        if (wants_all and gpu < n) or gpu == 0:
            reason, fix = why_no_gpu(log, gpu_offload=gpu_offload, n_gpu_layers=n_gpu_layers,
                                     cvd=cvd, env=env, gpu_layers=gpu, has_backend=has_backend)
            return Judgement("FALLBACK", reason, fix)
    if gpu == n:
        return Judgement("GPU")
    if gpu == 0:
        return Judgement("CPU")
    return Judgement("PARTIAL")


_FA_CHOICE = re.compile(r"Flash Attention (enabled|not supported, set to disabled)")


def flash_attn_choice(text: str) -> str | None:
    """For flash attention ``auto``: what llama.cpp chose when it made the context
    ("llama_context: Flash Attention enabled"); None when the log does not say."""
    found = _FA_CHOICE.findall(text)
    if not found:
        return None
    return "1" if found[-1] == "enabled" else "0"
