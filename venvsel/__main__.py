from __future__ import annotations

from .fast import entry

if __name__ == "__main__":
    entry()
