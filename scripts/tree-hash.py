#!/usr/bin/env python3
"""Print one sha256 for a directory tree: every entry's relative path, type and mode bits,
symlink target, and each file's contents and mtime (ns) -- the hash the repair tests use
(tests/unit/test_repair_recovery.py loads this file). Two trees with the same hash are the
same tree, byte for byte. Usage: tree-hash.py DIR"""

from __future__ import annotations

import hashlib
import os
import stat
import sys


def tree_hash(root: str) -> tuple[str, int, int]:
    h = hashlib.sha256()
    entries = size = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in [*sorted(filenames), *dirnames]:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            entries += 1
            rel = os.path.relpath(full, root)
            h.update(f"{rel}\0{st.st_mode:o}\0".encode("utf-8", "surrogateescape"))
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(full).encode("utf-8", "surrogateescape"))
            elif stat.S_ISREG(st.st_mode):
                size += st.st_size
                h.update(f"{st.st_mtime_ns}\0".encode())
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            h.update(b"\n")
    st = os.lstat(root)
    h.update(f".\0{st.st_mode:o}".encode())
    return h.hexdigest(), entries, size


if __name__ == "__main__":
    digest, n, size = tree_hash(sys.argv[1])
    print(f"{digest}  {n} entries, {size} bytes  {sys.argv[1]}")
