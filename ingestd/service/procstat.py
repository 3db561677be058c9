"""CPU time and memory of this process's descendants (the CPU pool's forkserver and worker
processes), read from Linux ``/proc``; nothing on other systems. Standard library only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessUse:
    """What a set of processes uses now: how many, CPU seconds so far, resident bytes."""

    processes: int = 0
    cpu_s: float = 0.0
    resident_bytes: int = 0


@dataclass(frozen=True)
class _Stat:
    pid: int
    ppid: int
    cpu_s: float
    resident_bytes: int


def _read_stat(path: Path, tick_hz: float, page_bytes: int) -> _Stat | None:
    """One ``/proc/PID/stat`` line (the command name may hold spaces and parentheses)."""
    try:
        line = (path / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = line[line.rfind(")") + 2 :].split()
    try:
        ppid, utime, stime, rss = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[21])
    except (IndexError, ValueError):
        return None
    return _Stat(int(path.name), ppid, (utime + stime) / tick_hz, rss * page_bytes)


def descendants(root: int | None = None) -> ProcessUse:
    """The processes descended from ``root`` (this process by default), summed."""
    if not PROC.is_dir():
        return ProcessUse()
    root = os.getpid() if root is None else root
    tick_hz = float(os.sysconf("SC_CLK_TCK"))
    page_bytes = os.sysconf("SC_PAGE_SIZE")
    children: dict[int, list[_Stat]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _read_stat(entry, tick_hz, page_bytes)):
            children.setdefault(stat.ppid, []).append(stat)
    found: list[_Stat] = []
    frontier = [root]
    while frontier:
        kids = [stat for pid in frontier for stat in children.get(pid, [])]
        found += kids
        frontier = [stat.pid for stat in kids]
    return ProcessUse(len(found), sum(s.cpu_s for s in found), sum(s.resident_bytes for s in found))
