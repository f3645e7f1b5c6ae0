"""The grader's borrowed isolation layer: bubblewrap around the child that runs a learner's code.

The engine (``engine.py``) starts its child through ``confine``. Where
bubblewrap (``bwrap``, the sandbox behind Flatpak) runs, the child:

- runs as ``nobody`` with no capabilities: where the grader is an ordinary
  user, in a user namespace of its own (nobody there is that user outside);
  where the grader is root, as the host's own ``nobody`` (bubblewrap mounts
  as root, then ``setpriv`` drops to nobody, with no capability, no way to
  gain one and no setuid), because a user namespace made by root maps its
  nobody to root, whom the kernel lets write its settings;
- sees the file system read-only, and only what it needs: the system's
  programs and libraries, this Python and its packages, and the sandbox's
  copy of the course package (``sandboxview.py``: what the child runs and
  MNIST, none of the course's answers), where the installed package itself
  is an empty folder. The course folder, the gradebook, other students'
  work, ``solutions/`` and the home folder are not there at all;
- writes only to a private, size-capped ``/tmp`` (a tmpfs) that vanishes
  with it, its working folder and home among it: nothing on the grader's
  disk, and no folder the grader works in;
- has its own PID, network (no interface but a dead loopback), IPC and UTS
  namespaces, so it reaches no network whoever runs the grader, and when the
  grader kills it (or dies) every process it started goes too
  (``--die-with-parent``; the namespace ends with its first process).

Where bubblewrap is missing or cannot run (macOS, a container or kernel
without unprivileged user namespaces), the child runs as before, with only
the engine's own limits, and every grade says "graded without isolation"
with the reason. ``MNIST_LESSONS_ISOLATION=none`` asks for that on purpose.

Limits stay outside, in the engine: time, memory and the number of processes
are watched from the grader's process, output and file sizes are capped.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

UNPRIVILEGED_ID = 65534  # nobody / nogroup
SANDBOX_TMP = "/tmp"  # where a sandbox writes, all of it: a private tmpfs (confine's work_bytes)
SHM_BYTES = 64 * 1024**2  # its /dev/shm: nothing in the lessons uses it
# Kernel settings and triggers under /proc, read-only as Docker keeps them. Only root may write them, and the
# child is never root (see _become_nobody); this is the second wall, which a review found missing when it was.
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
SWITCH = "MNIST_LESSONS_ISOLATION"  # "none": grade without bubblewrap, saying so in every grade

# Read-only views of the system: programs, libraries, the dynamic linker's cache. Of /etc only what a
# Python process reads, so that no secret kept there (shadow, ssh host keys) is in view.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime",
             "hosts", "mime.types", "fonts", "alternatives")


def without_isolation_note(why):
    """The note every grade carries when the child ran without the sandbox."""
    return f"Graded without isolation: {why}. The learner's code ran with the grader's own access to files."


@functools.cache
def bubblewrap():
    """(the bwrap program, None) where it runs here, or (None, why not)."""
    if os.environ.get(SWITCH, "").lower() == "none":
        return None, f"{SWITCH}=none was set"
    program = shutil.which("bwrap") or shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if program is None:
        return None, "bubblewrap (bwrap) is not installed; on Debian or Ubuntu: apt install bubblewrap"
    if _as_root() and _setpriv() is None:
        return None, "the grader runs as root and setpriv (util-linux), which drops to nobody, is missing"
    probe = [program, *_namespaces(), *_system_mounts(), "--proc", "/proc", "--dev", "/dev", "--",
             *_become_nobody(), "/bin/true"]
    try:
        completed = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"bubblewrap could not start ({err})"
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
        return None, f"bubblewrap cannot run on this host ({reason})"
    return program, None


def confine(command, work_bytes, read_only=(), package=None):
    """``command`` wrapped so that it runs confined, writing only to its own /tmp; and a note when it can't be.

    Its /tmp (``SANDBOX_TMP``, also its working folder) is a tmpfs of ``work_bytes``, which vanishes with it:
    nothing it writes is on the grader's disk, and the grader never works in a folder it can write.
    ``read_only``: more folders it may read (the grader's compilation cache). ``package``: the sandbox's copy
    of the course package (``sandboxview.make``), seen at ``sandboxview.SANDBOX_PATH``.
    The command is the first process
    of its PID namespace (bubblewrap's ``--as-pid-1``), which no process in the namespace can kill or stop
    (but by a signal it handles: the fork server ignores SIGINT): the fork server (``forkserver.py``), whose
    children could otherwise kill it, and so the other lessons' children with it.
    """
    program, why = bubblewrap()
    if program is None:
        return list(command), without_isolation_note(why)
    from mnist_lessons.grading import sandboxview

    places = [*_python_mounts()[2::3], *map(str, read_only), sandboxview.SANDBOX_PATH]
    view = ["--ro-bind", str(package), sandboxview.SANDBOX_PATH] if package is not None else []
    # Order matters: a mount hides what was mounted below it before, so the private /tmp comes first and
    # Python and the cache (which may live under /tmp) after it, then an empty folder over the installed
    # package wherever Python's own folders show it.
    return [
        program, *_namespaces(), *_system_mounts(),
        "--proc", "/proc", *[word for path in PROC_READ_ONLY for word in ("--ro-bind-try", path, path)],
        "--dev", "/dev", "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
        "--perms", "1777", "--size", str(work_bytes), "--tmpfs", SANDBOX_TMP,
        *_folders_leading_to(places), *_python_mounts(),
        *[word for folder in read_only for word in ("--ro-bind", str(folder), str(folder))],
        *[word for folder in _installed_package() for word in ("--perms", "0555", "--tmpfs", folder)], *view,
        "--chdir", SANDBOX_TMP, "--as-pid-1",
        "--", *_become_nobody(), *command,
    ], None


def _folders_leading_to(places):
    """Folders above the places bound, made passable: bubblewrap would copy the host's modes (/root is 0700)."""
    made = []
    for place in places:
        for parent in reversed(Path(place).parents):
            folder = str(parent)
            if folder != "/" and folder not in made and not _is_system(folder):
                made.append(folder)
    return [word for folder in made for word in ("--perms", "0755", "--dir", folder)]


def _as_root():
    return os.geteuid() == 0


@functools.cache
def _setpriv():
    return shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")


def _namespaces():
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--hostname", "grader", "--die-with-parent"]
    if _as_root():  # bubblewrap is privileged: it keeps just what setpriv needs to become nobody
        return [*common, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    return [*common, "--unshare-user", "--uid", str(UNPRIVILEGED_ID), "--gid", str(UNPRIVILEGED_ID),
            "--disable-userns"]


def _become_nobody():
    """Where the grader is root: the command that makes the rest of the command line the host's nobody."""
    if not _as_root():
        return []
    return [_setpriv(), f"--reuid={UNPRIVILEGED_ID}", f"--regid={UNPRIVILEGED_ID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _system_mounts():
    mounts = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):  # merged /usr: /bin -> usr/bin
            mounts += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            mounts += ["--ro-bind", path, path]
    for name in ETC_FILES:
        mounts += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return mounts


@functools.cache
def _python_mounts():
    """This Python and its packages, read-only, at the paths the child will look for them."""
    places = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
              os.path.dirname(sys.executable)}
    places.update(_child_sys_path())
    mounts = []
    for place in sorted(_outermost(p for p in places if p and os.path.isdir(p) and not _is_system(p))):
        mounts += ["--ro-bind", place, place]
    return tuple(mounts)


@functools.cache
def _child_python():
    """What a child's Python (``python -I``) finds: {"path": its module path, "package": the folders it would
    import the course package from}, asked once."""
    completed = subprocess.run(
        [sys.executable, "-I", "-c", "import importlib.util, json, sys; s = importlib.util.find_spec('mnist_lessons'); "
         "print(json.dumps({'path': sys.path, 'package': list(s.submodule_search_locations or []) if s else []}))"],
        capture_output=True, text=True, timeout=60)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _child_sys_path():
    """The folders on the child's module path (the standard library, site-packages, .pth lines)."""
    # Only the interpreter's own folders: an old-style editable install's .pth may name a whole clone,
    # solutions/ included (the sandbox has its own copy of the package: sandboxview.py).
    return [line for line in _child_python()["path"]
            if line.startswith((sys.base_prefix, sys.prefix)) or "site-packages" in line or "dist-packages" in line]


@functools.cache
def _installed_package():
    """The folders of the course package inside what the sandbox is shown (a non-editable install's, in
    site-packages): the sandbox sees them empty. An editable install's folder is outside, not shown at all."""
    from mnist_lessons.grading.sandboxview import package_folder

    shown = _python_mounts()[2::3]
    found = {os.path.realpath(folder) for folder in _child_python()["package"]} | {str(package_folder())}
    return sorted(folder for folder in found
                  if os.path.isdir(folder) and any(folder.startswith(place + "/") for place in shown))


def _is_system(path):
    return any(path == root or path.startswith(root + "/") for root in SYSTEM_PATHS)


def _outermost(paths):
    """The paths that are not inside another of them: each folder bound once."""
    kept = []
    for path in sorted({os.path.normpath(p) for p in paths}):
        if not any(path.startswith(parent + "/") for parent in kept):
            kept.append(path)
    return kept
