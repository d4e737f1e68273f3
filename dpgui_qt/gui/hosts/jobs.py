"""Host work from the GUI as ``QProcess`` children on the event loop (issue #15).

Everything that talks to an SSH host from the window -- profile checks, upload plans and
uploads, saved-output listings and downloads, run control, a remote run's console, the
multi-node pre-flight -- runs as a child process: either dpgui's own command line
(``dpgui remote ...``, ``dpgui hosts check``, ``dpgui launch --host``), or ``ssh`` itself
with a script on standard input.  The GUI thread never waits on the network.

``CliJob(parent)``: ``start(args)`` runs dpgui's CLI with ``args``; signals ``line(str)`` for
each line of standard output, ``jsonLine(dict)`` for each JSON line (``--json`` commands),
``errLine(str)`` for standard error lines and ``done(int, str)`` (exit code, -1 when it
crashed or was killed; the stderr tail).  ``cancel()`` asks the child to stop (SIGTERM; the
commands treat it as Ctrl-C) and kills it after a grace period.
``ArgvJob``: the same for an arbitrary argv with bytes on standard input.
"""
from __future__ import annotations

import json
import os
import signal
import sys

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

KILL_GRACE_MS = 15000


def cli_argv(*args: str) -> list[str]:
    """dpgui's own command line: ``dpgui ARGS`` as this program can run it (a frozen build's
    executable is dpgui itself; from source, ``python -m dpgui_qt``)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "dpgui_qt", *args]


class ArgvJob(QObject):
    line = Signal(str)
    jsonLine = Signal(dict)
    errLine = Signal(str)
    done = Signal(int, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proc: QProcess | None = None
        self._out = b""
        self._err = b""
        self._err_tail: list[str] = []
        self._finished = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)
        self.exit_code: int | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def start_argv(self, argv: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> None:
        if self.running:
            raise RuntimeError("this job is already running")
        self._out = self._err = b""
        self._err_tail = []
        self._finished = False
        self.exit_code = None
        proc = QProcess(self)
        self.proc = proc
        penv = QProcessEnvironment.systemEnvironment()
        penv.insert("PYTHONUNBUFFERED", "1")
        for k, v in (env or {}).items():
            penv.insert(k, v)
        proc.setProcessEnvironment(penv)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        proc.readyReadStandardOutput.connect(lambda: self._read(proc, False))
        proc.readyReadStandardError.connect(lambda: self._read(proc, True))
        proc.finished.connect(lambda code, status: self._finish(proc, code, status))
        proc.errorOccurred.connect(lambda err: self._error(proc, err))
        proc.start()
        if stdin:
            proc.write(stdin)        # buffered until the child runs
        proc.closeWriteChannel()

    def _read(self, proc: QProcess, err: bool) -> None:
        if proc is not self.proc:
            return
        data = bytes((proc.readAllStandardError() if err else proc.readAllStandardOutput()).data())
        buf = (self._err if err else self._out) + data
        *lines, rest = buf.split(b"\n")
        if err:
            self._err = rest
        else:
            self._out = rest
        for raw in lines:
            self._emit(raw.decode("utf-8", "replace").rstrip("\r"), err)

    def _emit(self, text: str, err: bool) -> None:
        if err:
            self._err_tail = (self._err_tail + [text])[-40:]
            self.errLine.emit(text)
            return
        self.line.emit(text)
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                return
            if isinstance(obj, dict):
                self.jsonLine.emit(obj)

    def _finish(self, proc: QProcess, code: int, status) -> None:
        if proc is not self.proc or self._finished:
            return
        self._read(proc, False)
        self._read(proc, True)
        for buf, err in ((self._out, False), (self._err, True)):
            if buf:
                self._emit(buf.decode("utf-8", "replace"), err)
        self._out = self._err = b""
        self._finished = True
        self._kill_timer.stop()
        crashed = status != QProcess.ExitStatus.NormalExit
        self.exit_code = -1 if crashed else int(code)
        self.done.emit(self.exit_code, "\n".join(self._err_tail).strip())

    def _error(self, proc: QProcess, err) -> None:
        if proc is not self.proc or err != QProcess.ProcessError.FailedToStart or self._finished:
            return
        self._finished = True
        self.exit_code = -1
        self.done.emit(-1, f"{proc.program()}: cannot be started ({proc.errorString()})")

    def interrupt(self) -> bool:
        """Send Ctrl-C (SIGINT) to the child where the platform can; False where not."""
        if self.proc is None or not self.running or os.name == "nt":
            return False
        try:
            os.kill(int(self.proc.processId()), signal.SIGINT)
        except OSError:
            return False
        return True

    def cancel(self) -> None:
        """Ask the child to stop (SIGTERM: the commands cancel cleanly), kill it later."""
        if self.proc is None or not self.running:
            return
        self.proc.terminate()
        self._kill_timer.start(KILL_GRACE_MS)

    def _kill(self) -> None:
        if self.proc is not None and self.running:
            self.proc.kill()


class CliJob(ArgvJob):
    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.start_argv(cli_argv(*args), env=env)
