# -*- coding: utf-8 -*-
"""The live probe: runs INSIDE the target env's interpreter and reports what it can do.

Stdlib only. Its syntax must parse on Python 2.7 and 3.6 (no f-strings, no annotations,
no walrus, no keyword-only arguments) so that an old interpreter can say which version it
is instead of failing with a SyntaxError; it probes CPython 3.8 and newer.

Usage (the parent, venvsel.probe, builds this line):
    python -E -s _child.py --fd N           # records go to the already-open descriptor N
    python -E -s _child.py --marker TOKEN   # records go to stdout, each line "TOKEN <json>"

The result is a stream of newline-terminated JSON records, written as each step finishes
so that a crash in a native library (torch, llama_cpp) still leaves the earlier answers:
    {"event": "begin", "stage": "torch"}     a step starts (names the step a crash hit)
    {"event": "data", "fields": {...}}       fields of venvsel.model.ProbeResult
    {"event": "unsupported"}                 interpreter too old to probe
    {"event": "end"}                         every step finished
A package that is not installed leaves its fields unset; one that is installed but fails to
import sets ``torch_error`` / ``llama_error`` to the exception in one line. ``cuda_error``
(not a ProbeResult field: the parent moves it into ``detail``) is torch's own reason for
``torch.cuda.is_available()`` being False, when it gives one.
"""

import importlib
import json
import os
import sys

# Type comments, not annotations: Python 2.7 must parse this file. mypy reads them when
# venvsel.guard imports the probe functions to check the running interpreter in-process.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    Record = Dict[str, Any]

MIN_VERSION = (3, 8)


class Channel(object):
    """Where records go: a descriptor the parent passed, or stdout lines behind a token."""

    def __init__(self, fd=None, marker=None):
        # type: (Optional[int], Optional[str]) -> None
        self.fd = fd
        self.marker = marker

    def send(self, record):
        # type: (Record) -> None
        line = json.dumps(record, sort_keys=True, ensure_ascii=True)
        if self.fd is not None:
            _write_all(self.fd, (line + "\n").encode("ascii"))
        else:
            assert self.marker is not None
            # Start on a fresh line: whatever the env printed before may lack a newline.
            try:
                sys.stdout.flush()
            except Exception:
                pass
            _write_all(1, ("\n" + self.marker + " " + line + "\n").encode("ascii"))


def _write_all(fd, data):
    # type: (int, bytes) -> None
    while data:
        n = os.write(fd, data)
        data = data[n:]


def one_line(exc):
    # type: (BaseException) -> str
    """An exception as one line: 'ImportError: libcudart.so.12: cannot open shared object'."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    return (name + ": " + first) if first else name


def python_fields():
    # type: () -> Record
    v = sys.version_info
    return {
        "python": "%d.%d.%d" % (v[0], v[1], v[2]),
        "executable": sys.executable,
    }


def installed(name):
    # type: (str) -> bool
    """Whether a top-level package can be found, without importing it."""
    try:
        # the child runs in the probed env: it imports what each question needs
        import importlib.util

        return importlib.util.find_spec(name) is not None
    except Exception:
        # A broken finder still means "something is there": let the import say what.
        return True


def probe_torch(send):
    # type: (Callable[[Record], None]) -> None
    if not installed("torch"):
        return
    send({"event": "begin", "stage": "import torch"})
    try:
        torch = importlib.import_module("torch")
    except BaseException as exc:  # SystemExit / KeyboardInterrupt from a broken install too
        send({"event": "data", "fields": {"torch_error": one_line(exc)}})
        return
    fields = {"torch_version": str(getattr(torch, "__version__", "") or "") or None}
    version = getattr(torch, "version", None)
    fields["torch_cuda"] = getattr(version, "cuda", None)
    fields["torch_hip"] = getattr(version, "hip", None)
    send({"event": "data", "fields": fields})

    send({"event": "begin", "stage": "torch.cuda.is_available()"})
    # torch says *why* CUDA is unavailable only in a warning ("Found no NVIDIA driver ...").
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            available = bool(torch.cuda.is_available())
            error = None
        except Exception as exc:
            available = False
            error = one_line(exc)
    if error is None and not available:
        for w in caught:
            text = str(w.message).strip().splitlines()
            if text and "cuda" in text[0].lower():
                error = text[0]
                break
    if error is None and not available:
        # Newer torch stays silent; initialising CUDA raises with the reason ("Found no
        # NVIDIA driver on your system", "driver ... too old", "not compiled with CUDA").
        try:
            torch.cuda.init()
        except Exception as exc:
            text = str(exc).strip().splitlines()
            error = text[0] if text else one_line(exc)
    send({"event": "data", "fields": {"cuda_available": available, "cuda_error": error}})

    send({"event": "begin", "stage": "torch.cuda.get_arch_list()"})
    try:
        arch = [str(a) for a in torch.cuda.get_arch_list()]
        send({"event": "data", "fields": {"arch_list": arch}})
    except Exception:
        pass

    if available:
        send({"event": "begin", "stage": "torch.cuda devices"})
        devices = []
        try:
            for i in range(torch.cuda.device_count()):
                dev = {"index": i, "name": "?", "capability": None, "memory_mib": None}
                try:
                    dev["name"] = str(torch.cuda.get_device_name(i))
                    major, minor = torch.cuda.get_device_capability(i)
                    dev["capability"] = "%d.%d" % (major, minor)
                    props = torch.cuda.get_device_properties(i)
                    dev["memory_mib"] = int(props.total_memory) // (1024 * 1024)
                except Exception:
                    pass
                devices.append(dev)
        except Exception:
            pass
        send({"event": "data", "fields": {"cuda_devices": devices}})

        # is_available() only asks the driver; a kernel shows whether this build has code
        # for this GPU ("no kernel image is available for execution on the device").
        send({"event": "begin", "stage": "a CUDA kernel"})
        try:
            x = torch.ones(1, device="cuda") + 1
            torch.cuda.synchronize()
            ok = float(x.item()) == 2.0
            send({"event": "data", "fields": {
                "kernel_ok": ok,
                "kernel_error": None if ok else "wrong result from a CUDA kernel",
            }})
        except Exception as exc:
            send({"event": "data", "fields": {"kernel_ok": False, "kernel_error": one_line(exc)}})

    send({"event": "begin", "stage": "torch.backends.mps"})
    try:
        mps = getattr(getattr(torch, "backends", None), "mps", None)
        if mps is not None:
            send({"event": "data", "fields": {"mps_available": bool(mps.is_available())}})
    except Exception:
        pass


def probe_llama(send):
    # type: (Callable[[Record], None]) -> None
    if not installed("llama_cpp"):
        return
    # Importing llama_cpp loads its native library: that is part of what we test.
    send({"event": "begin", "stage": "import llama_cpp"})
    try:
        llama_cpp = importlib.import_module("llama_cpp")
    except BaseException as exc:
        send({"event": "data", "fields": {"llama_error": one_line(exc)}})
        return
    send({"event": "data", "fields": {
        "llama_version": str(getattr(llama_cpp, "__version__", "") or "") or None,
    }})
    send({"event": "begin", "stage": "llama_supports_gpu_offload()"})
    try:
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        send({"event": "data", "fields": {"llama_gpu_offload": offload}})
    except Exception as exc:
        send({"event": "data", "fields": {"llama_error": one_line(exc)}})
    send({"event": "begin", "stage": "llama_print_system_info()"})
    try:
        info = llama_cpp.llama_print_system_info()
        if isinstance(info, bytes):
            info = info.decode("utf-8", "replace")
        send({"event": "data", "fields": {"llama_system_info": str(info).strip()}})
    except Exception:
        pass


def parse_args(argv):
    # type: (List[str]) -> Channel
    fd = marker = None
    i = 0
    while i < len(argv):
        if argv[i] == "--fd" and i + 1 < len(argv):
            fd = int(argv[i + 1])
            i += 2
        elif argv[i] == "--marker" and i + 1 < len(argv):
            marker = argv[i + 1]
            i += 2
        else:
            i += 1
    if fd is None and marker is None:
        sys.stderr.write("usage: _child.py --fd N | --marker TOKEN\n")
        sys.exit(2)
    return Channel(fd=fd, marker=marker)


def main():
    # type: () -> None
    channel = parse_args(sys.argv[1:])
    # The script's own folder is sys.path[0]; nothing of ours should shadow the env's code.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    channel.send({"event": "data", "fields": python_fields()})
    if tuple(sys.version_info[:2]) < MIN_VERSION:
        channel.send({"event": "unsupported"})
        return
    probe_torch(channel.send)
    probe_llama(channel.send)
    channel.send({"event": "end"})


if __name__ == "__main__":
    main()
    # Skip interpreter teardown: native libraries (torch, llama.cpp) are known to crash in
    # their atexit/destructor code, which would turn a finished answer into a "crash".
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(0)
