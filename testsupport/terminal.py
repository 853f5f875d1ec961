"""A command run as a terminal runs it: in a new session whose controlling terminal is a pseudo
terminal, in that terminal's foreground, so ``ctrl_c()`` is a real Ctrl-C (the terminal sends
SIGINT to its foreground process group, whichever that is by then).

``close()`` kills whatever of the session is left (every process group in it), so a failed test
leaves nothing running.
"""

import fcntl
import os
import pty
import re
import signal
import subprocess
import termios
import threading
import time
from pathlib import Path


def _controlling_terminal() -> None:
    """In the child, after setsid(): make stdin (the pty) the session's controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    def __init__(self, command: list[str], *, cwd: Path, env: dict) -> None:
        master, slave = pty.openpty()
        self._master = master
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        try:
            self.proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=_controlling_terminal,
            )
        finally:
            os.close(slave)
        self.session = self.proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: every process holding the terminal has gone
                return
            if not data:
                return
            with self._lock:
                self._chunks.append(data)

    def output(self) -> str:
        with self._lock:
            text = b"".join(self._chunks).decode(errors="replace")
        return text.replace("\r\n", "\n")

    def wait_for(self, pattern: str, *, timeout: float, since: int = 0) -> re.Match:
        """The first match of ``pattern`` in the output after character ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output()[since:], re.MULTILINE)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} within {timeout} s\n{self.output()[-6000:]}")

    def ctrl_c(self) -> None:
        os.write(self._master, b"\x03")

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def _groups(self) -> set[int]:
        groups = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.session:  # session id
                groups.add(int(fields[2]))  # process group
        return groups

    def close(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            groups = self._groups()
            if not groups and self.proc.poll() is not None:
                break
            for group in groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        self._reader.join(timeout=5)
        os.close(self._master)
