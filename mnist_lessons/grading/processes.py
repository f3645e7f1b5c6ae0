"""Which processes descend from which, read from Linux's /proc: the grader's children and what they started.

The engine (``engine.py``) watches and kills its sandboxed child's tree; autograde-class (``classgrading.py``)
stops its nbgrader commands' trees. Elsewhere than Linux there is no /proc, and a tree is just its roots.
"""

import contextlib
import os


def proc_stat(pid):
    """(state, parent pid, session, start time in clock ticks) of a process from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()  # after the command's name, which may hold spaces
        return fields[0].decode(), int(fields[1]), int(fields[3]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def live_processes():
    """{pid: (parent pid, session)} of every live (not zombie) process this user can see."""
    table = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            stat_ = proc_stat(int(entry))
            if stat_ is not None and stat_[0] != "Z":
                table[int(entry)] = stat_[1], stat_[2]
    return table


def trees(roots, sessions=()):
    """The live processes among ``roots`` or in one of ``sessions``, and every descendant of them; never this one."""
    table = live_processes()
    children = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found = set()
    stack = [pid for pid in roots if pid in table] + [pid for pid, (_, session) in table.items() if session in sessions]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    found.discard(os.getpid())
    return found


def resident_bytes(pids):
    """Resident memory of these processes, together."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass  # not Linux, or the process just ended
    return total


def prctl(option, value):
    """Linux's prctl(option, value) for this process; nothing where there is none."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
