"""The SSH transport (Qt-free): destinations, the system OpenSSH client's argv, and running
commands on a host through it (issue #15).

dpgui never speaks SSH itself: it runs the system ``ssh`` (OpenSSH; Windows 10+ ships it), so
the user's keys, agent, ``~/.ssh/config`` (aliases, ``ProxyJump``) and known-hosts policy apply.
Passwords are never asked for or stored (``BatchMode=yes``), and host-key verification is never
disabled: where the user's configuration turns it off, dpgui turns it back on
(``StrictHostKeyChecking=accept-new``: a known host with a changed key is still refused).

Public API (used by :mod:`.ssh`, :mod:`.sync`, the CLI and the GUI):

``parse_destination(text) -> Destination``
    ``alias`` (a ``Host`` of ``~/.ssh/config``), ``host``, ``user@host``, ``user@host:port``,
    ``[v6addr]:port``, ``ssh://user@host:port``.  Raises :class:`SshError` on bad input.
``config_aliases(path=None) -> list[str]``
    The concrete ``Host`` names of ``~/.ssh/config`` (for pickers).
``SshTransport(destination, *, ssh=None, config_file=None, control_dir=None, ...)``
    ``argv(command)``          the full argv to run ``command`` (a string for the remote shell,
                               or a list that is quoted for it) -- give it to a QProcess in the GUI
    ``ssh_command()``          the ssh part alone as one string, for ``rsync -e``
    ``run(command, input=b"", timeout=...) -> Result``   blocking; raises :class:`SshError` when
                               ssh itself failed (exit 255: unreachable, auth, host key)
    ``popen(command, **kw)``   a streaming child process
    ``ensure_master()`` / ``close()``   the multiplexing master (ControlMaster/ControlPersist,
                               not on Windows); ``run`` lets its first command's connection
                               become the master (input/output through files, so the master
                               that stays behind holds no pipe of ours), ``popen`` and rsync
                               start one explicitly first
``quote(arg)``   POSIX shell quoting for remote command lines.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONNECT_TIMEOUT = 15
CONTROL_PERSIST_S = 300
MASTER_RECHECK_S = 30.0

_HOST_RE = re.compile(r"^[A-Za-z0-9_.%-]+$")
_USER_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.@+-]*$")


class SshError(RuntimeError):
    """ssh could not reach or log in to the host (message is user-facing)."""


def quote(arg: str) -> str:
    return shlex.quote(str(arg))


@dataclass(frozen=True)
class Destination:
    """Where to connect.  ``host`` is an alias or a host name/address; ``user``/``port`` are
    None when they come from ``~/.ssh/config`` (or ssh's defaults)."""
    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        s = f"{self.user}@{h}" if self.user else h
        return f"{s}:{self.port}" if self.port else s

    @property
    def label(self) -> str:
        return str(self)


def parse_destination(text: str) -> Destination:
    """Parse an SSH destination as dpgui writes it (see the module docstring)."""
    s = (text or "").strip()
    if not s:
        raise SshError("the SSH destination is empty")
    if s.startswith("-"):
        raise SshError(f"an SSH destination cannot start with '-': {s!r}")
    if any(c.isspace() for c in s):
        raise SshError(f"an SSH destination has no spaces: {s!r}")
    if s.startswith("ssh://"):
        s = s[len("ssh://"):].rstrip("/")
    user = None
    if "@" in s:
        user, _, s = s.rpartition("@")
        if not user or not _USER_RE.match(user):
            raise SshError(f"invalid user name in the SSH destination: {user!r}")
    port: int | None = None
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        if not sep:
            raise SshError(f"unclosed '[' in the SSH destination: {text!r}")
        if rest:
            if not rest.startswith(":"):
                raise SshError(f"unexpected text after ']' in {text!r}")
            port = _port(rest[1:], text)
    elif s.count(":") == 1:
        host, _, p = s.partition(":")
        port = _port(p, text)
    elif s.count(":") > 1:
        host = s     # a bare IPv6 address
    else:
        host = s
    if not host:
        raise SshError(f"no host in the SSH destination: {text!r}")
    if ":" not in host and not _HOST_RE.match(host):
        raise SshError(f"invalid host name in the SSH destination: {host!r}")
    return Destination(host, user, port)


def _port(p: str, text: str) -> int:
    if not p.isdigit() or not 1 <= int(p) <= 65535:
        raise SshError(f"invalid port in the SSH destination: {text!r}")
    return int(p)


def config_aliases(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The concrete host aliases of an ssh_config (``Host`` names without wildcards)."""
    p = Path(path) if path else Path.home() / ".ssh" / "config"
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "host":
            for name in parts[1].split():
                if not any(c in name for c in "*?!") and name not in out:
                    out.append(name)
    return out


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()


def explain_ssh_failure(stderr: str, dest: str) -> str:
    """A user-facing sentence for ssh's exit 255."""
    low = stderr.lower()
    if "host key verification failed" in low or "remote host identification has changed" in low:
        why = ("the host key could not be verified (unknown host or changed key); connect once "
               f"with 'ssh {dest}' in a terminal to check and accept it")
    elif "permission denied" in low:
        why = ("the login was refused: dpgui logs in with keys only (your ssh agent or the "
               "IdentityFile of ~/.ssh/config), never with a password")
    elif "could not resolve hostname" in low:
        why = "the host name cannot be resolved"
    elif "connection refused" in low:
        why = "the connection was refused (no SSH server on that port?)"
    elif "timed out" in low:
        why = "the connection timed out"
    else:
        why = "ssh failed"
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return f"cannot reach {dest}: {why}" + (f" ({tail})" if tail else "")


def _default_control_dir() -> Path | None:
    """A short private folder for control sockets (their paths must stay under ~100 bytes);
    ``DPGUI_SSH_CONTROL_DIR`` overrides it."""
    if os.environ.get("DPGUI_SSH_CONTROL_DIR"):
        return Path(os.environ["DPGUI_SSH_CONTROL_DIR"])
    base = Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())
    uid = os.getuid() if hasattr(os, "getuid") else 0
    d = base / f"dpgui-ssh-{uid}"
    try:
        d.mkdir(mode=0o700, exist_ok=True)
        st = d.lstat()
        if not d.is_dir() or d.is_symlink() or (hasattr(os, "getuid") and st.st_uid != uid) \
                or (st.st_mode & 0o077):
            return None       # someone else's, or open to others: no multiplexing
    except OSError:
        return None
    return d


class SshTransport:
    """Runs commands on one host through the system OpenSSH client."""

    def __init__(self, destination: str | Destination, *, ssh: str | None = None,
                 config_file: str | os.PathLike[str] | None = None,
                 control_dir: str | os.PathLike[str] | None = None, multiplex: bool | None = None,
                 connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
                 extra_options: list[str] | tuple[str, ...] = ()):
        self.destination = (destination if isinstance(destination, Destination)
                            else parse_destination(destination))
        self.ssh = ssh or shutil.which("ssh") or "ssh"
        self.config_file = os.fspath(config_file) if config_file else None
        self.connect_timeout = int(connect_timeout)
        self.extra_options = list(extra_options)
        if multiplex is None:
            multiplex = os.name != "nt"       # Windows' OpenSSH has no ControlMaster
        self.control_dir: Path | None = None
        if multiplex:
            self.control_dir = Path(control_dir) if control_dir else _default_control_dir()
        self._lock = threading.Lock()
        self._strict_fixed: list[str] | None = None
        self._master_seen = -1e9          # monotonic time the master was last known up

    # -- argv --------------------------------------------------------------
    def _options(self) -> list[str]:
        opts: list[str] = []
        if self.config_file:
            opts += ["-F", self.config_file]
        opts += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                 "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
                 "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"]
        opts += self._strict_options()
        if self.control_dir is not None:
            opts += ["-o", f"ControlPath={self.control_dir / '%C'}"]
        opts += self.extra_options
        if self.destination.port:
            opts += ["-p", str(self.destination.port)]
        if self.destination.user:
            opts += ["-l", self.destination.user]
        return opts

    def _strict_options(self) -> list[str]:
        """Turn host-key checking back on where the user's config switched it off."""
        if self._strict_fixed is None:
            fixed: list[str] = []
            try:
                r = subprocess.run([self.ssh, *(["-F", self.config_file] if self.config_file else []),
                                    "-G", *(["-p", str(self.destination.port)] if self.destination.port else []),
                                    self.destination.host], capture_output=True, timeout=20,
                                   stdin=subprocess.DEVNULL)
                for line in r.stdout.decode("utf-8", "replace").splitlines():
                    k, _, v = line.partition(" ")
                    if k.lower() == "stricthostkeychecking" and v.strip().lower() in ("false", "no", "off"):
                        fixed = ["-o", "StrictHostKeyChecking=accept-new"]
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._strict_fixed = fixed
        return self._strict_fixed

    def base_argv(self) -> list[str]:
        """``ssh OPTIONS HOST`` (append the remote command)."""
        return [self.ssh, *self._options(), "--", self.destination.host]

    def argv(self, command: str | list[str]) -> list[str]:
        if not isinstance(command, str):
            command = " ".join(quote(a) for a in command)
        return [*self.base_argv(), command]

    def ssh_command(self) -> str:
        """The ssh invocation as one string, for ``rsync -e`` (rsync appends the host)."""
        argv = [self.ssh, *self._options()]
        return " ".join(quote(a) for a in argv)

    # -- multiplexing ------------------------------------------------------
    def _master_up(self) -> bool:
        """Is the shared connection up?  Asked at most every MASTER_RECHECK_S (should it have
        gone meanwhile, commands still work: ssh then connects on its own, only slower).
        Call with the lock held."""
        if time.monotonic() - self._master_seen < MASTER_RECHECK_S:
            return True
        chk = subprocess.run([self.ssh, *self._options(), "-O", "check", "--", self.destination.host],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if chk.returncode == 0:
            self._master_seen = time.monotonic()
            return True
        return False

    def ensure_master(self) -> None:
        """Start the shared connection if it is not up (no-op without multiplexing).
        Raises :class:`SshError` when the host cannot be reached."""
        if self.control_dir is None:
            return
        with self._lock:
            if self._master_up():
                return
            with tempfile.TemporaryFile() as err:
                # -f: background after login; its stderr is a file, so no pipe of ours is held
                r = subprocess.run([self.ssh, *self._options(), "-o", "ControlMaster=yes",
                                    "-o", f"ControlPersist={CONTROL_PERSIST_S}", "-N", "-f",
                                    "--", self.destination.host],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                   timeout=self.connect_timeout + 30)
                if r.returncode != 0:
                    err.seek(0)
                    raise SshError(explain_ssh_failure(err.read().decode("utf-8", "replace"),
                                                       str(self.destination)))
                self._master_seen = time.monotonic()

    def _run_becoming_master(self, command: str | list[str], input: bytes | None,
                             timeout: float | None) -> Result | None:
        """When no shared connection is up, the command's own connection becomes it
        (``ControlMaster=auto`` + ``ControlPersist``), saving a round trip.  Its input and
        output go through files: the master that stays behind keeps them open, which would
        hold a pipe open until it exits.  None when a shared connection is up already."""
        with self._lock:
            if self._master_up():
                return None
            argv = self.argv(command)
            i = argv.index("--")
            argv[i:i] = ["-o", "ControlMaster=auto", "-o", f"ControlPersist={CONTROL_PERSIST_S}"]
            with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
                    tempfile.TemporaryFile() as ferr:
                fin.write(input or b"")
                fin.seek(0)
                try:
                    p = subprocess.run(argv, stdin=fin, stdout=fout, stderr=ferr, timeout=timeout)
                except subprocess.TimeoutExpired as e:
                    raise SshError(f"{self.destination}: the command did not answer within "
                                   f"{timeout:g} s") from e
                except OSError as e:
                    raise SshError(f"cannot run ssh ({self.ssh}): {e}") from e
                fout.seek(0)
                ferr.seek(0)
                res = Result(p.returncode, fout.read(), ferr.read())
            if p.returncode != 255:
                self._master_seen = time.monotonic()
            return res

    def close(self) -> None:
        """Stop the shared connection (the runs on the host are not affected)."""
        if self.control_dir is None:
            return
        self._master_seen = -1e9
        subprocess.run([self.ssh, *self._options(), "-O", "exit", "--", self.destination.host],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)

    # -- running -----------------------------------------------------------
    def run(self, command: str | list[str], input: bytes | None = None,
            timeout: float | None = 120, check_ssh: bool = True) -> Result:
        first = self._run_becoming_master(command, input, timeout) if self.control_dir else None
        if first is not None:
            if check_ssh and first.returncode == 255:
                raise SshError(explain_ssh_failure(first.err, str(self.destination)))
            return first
        try:
            p = subprocess.run(self.argv(command), input=input if input is not None else b"",
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise SshError(f"{self.destination}: the command did not answer within {timeout:g} s") from e
        except OSError as e:
            raise SshError(f"cannot run ssh ({self.ssh}): {e}") from e
        res = Result(p.returncode, p.stdout, p.stderr)
        if check_ssh and p.returncode == 255:
            raise SshError(explain_ssh_failure(res.err, str(self.destination)))
        return res

    def popen(self, command: str | list[str], **kw: Any) -> subprocess.Popen[Any]:
        self.ensure_master()
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(command), **kw)


def have_ssh() -> bool:
    return shutil.which("ssh") is not None


def have_rsync() -> bool:
    return shutil.which("rsync") is not None and sys.platform != "win32"
