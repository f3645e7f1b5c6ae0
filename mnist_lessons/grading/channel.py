"""How a lesson's child hands its results to the grader: files sent as frames down a pipe only it holds.

A child shares its sandbox with the student's other lessons (``forkserver.py``),
so no folder it can write is out of their reach. Instead it sends each
result file (progress events, cell outputs, records, arrays) as a frame: a
line of JSON, ``{"file": name, "mode": "w" or "a", "size": n}``, then ``n``
bytes. The grader (``Receiver``) writes them into a folder of its own, which
no sandbox sees, and reads them there (``engine.py``).

Learner code in the same child can write to the pipe too, as it could write
its own results folder before: at worst it makes its own lesson's results
unreadable. A frame the grader cannot read stops the reading of that pipe
(the rest is drained unread), never the grader: names are plain, sizes and
counts are capped, and the folder holds no link a name could follow.
"""

import json
import os
import re
import threading

MAX_HEADER_BYTES = 4096  # one frame's header line: a name and two numbers
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # what the child names its files: no folders, no dot files
READ_BYTES = 1024 * 1024

# Bound when the module is imported (in the fork server, before any learner code), so that learner code
# rebinding os.write or json.dumps cannot change what the course's own code sends.
_write = os.write
_dumps = json.dumps
_len = len
_memoryview = memoryview


class Sender:
    """The child's end: ``send(name, data)`` writes one file's bytes to the grader (``mode="a"`` appends)."""

    def __init__(self, descriptor):
        self.descriptor = descriptor

    def send(self, name, data, mode="w"):
        header = _dumps({"file": name, "mode": mode, "size": _len(data)}).encode() + b"\n"
        self._write_all(header)
        self._write_all(data)

    def _write_all(self, data):
        view = _memoryview(data)
        while view:
            written = _write(self.descriptor, view)
            view = view[written:]


class Receiver:
    """The grader's end: a thread that writes each frame read from ``descriptor`` into ``folder``.

    At most ``max_bytes`` in all and ``max_files`` files; past either, or at a
    frame it cannot read, it notes why in ``problem`` and drains the rest
    unread, so that the child never blocks on a full pipe.
    """

    def __init__(self, descriptor, folder, *, max_bytes, max_files):
        self.descriptor = descriptor
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.received = 0
        self.files = set()
        self.problem = None
        self._thread = threading.Thread(target=self._run, name="results-receiver", daemon=True)
        self._thread.start()

    def join(self, timeout=None):
        """Wait for the end of the pipe (the child and all it started are gone); False if it did not come."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self):
        header, target, remaining = bytearray(), None, 0  # target: the file a frame's bytes go to
        try:
            while True:
                chunk = _memoryview(os.read(self.descriptor, READ_BYTES))
                if not chunk:
                    break
                while chunk and self.problem is None:  # once there is a problem, the rest is drained unread
                    try:
                        if target is None:
                            end = bytes(chunk[:MAX_HEADER_BYTES]).find(b"\n")
                            header += chunk[:end + 1] if end >= 0 else chunk
                            chunk = chunk[end + 1:] if end >= 0 else chunk[:0]
                            if end < 0:
                                if _len(header) >= MAX_HEADER_BYTES:
                                    raise ValueError("a frame's header was longer than any the course writes")
                                continue
                            target, remaining = self._open(*_header(bytes(header[:-1])))
                            header = bytearray()
                        part = chunk[:remaining]
                        while part:
                            part = part[os.write(target, part):]
                        chunk, remaining = chunk[remaining:], remaining - _len(chunk[:remaining])
                        if remaining == 0:
                            os.close(target)
                            target = None
                    except (ValueError, OSError) as err:
                        self.problem = str(err)
            if self.problem is None and (header or target is not None):
                self.problem = "its last frame was cut short"
        finally:
            if target is not None:
                os.close(target)
            os.close(self.descriptor)

    def _open(self, name, mode, size):
        """The descriptor a frame of ``size`` bytes for file ``name`` is written to, within the caps; and ``size``."""
        self.received += size
        if self.received > self.max_bytes:
            raise ValueError(f"it sent more than the {self.max_bytes:,} bytes of results the grader takes")
        self.files.add(name)
        if _len(self.files) > self.max_files:
            raise ValueError(f"it sent more than the {self.max_files:,} files of results the grader takes")
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if mode == "a" else os.O_TRUNC)
        return os.open(os.path.join(self.folder, name), flags, 0o600), size


def _header(line):
    """(file name, mode, size) of a frame's header line; ValueError when it is not one the course writes."""
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("a frame's header was not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("a frame's header was not an object")
    name, mode, size = header.get("file"), header.get("mode"), header.get("size")
    if not (isinstance(name, str) and FILE_NAME.fullmatch(name)):
        raise ValueError("a frame named a file the grader does not take")
    if mode not in ("w", "a") or type(size) is not int or size < 0:
        raise ValueError("a frame's header was not one the course writes")
    return name, mode, size
