"""The machine line every benchmark prints: results only mean something next to it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def describe(*extras: str) -> str:
    """`<cpu>, <n> cores, Python x.y.z, <OS>` plus any library versions that matter."""
    parts = [
        cpu_model(),
        f"{os.cpu_count()} cores",
        f"Python {platform.python_version()}",
        platform.system(),
    ]
    return ", ".join([*parts, *extras])
