"""A real OpenSSH server for tests (issue #15), as a pytest plugin.

Register it with ``pytest_plugins = ["tests.sshfix"]`` (tests/conftest.py does) and use:

``sshd`` (session)
    One running ``sshd`` on a free loopback port: :class:`SshServer`.
``sshd_factory`` (session)
    ``sshd_factory()`` starts one more server (two of them stand for two nodes); every
    server started is stopped at the end of the session.
``ssh_client`` (function)
    :class:`SshClient` for ``sshd``: a per-test ``ssh_config`` and ``known_hosts`` under the
    test's tmp folder, with the alias ``dpgui-test`` (and ``dpgui-test-N`` for further
    servers through ``ssh_client.add(server)``).  The client verifies the host key
    (``StrictHostKeyChecking yes`` against the known_hosts the fixture wrote), logs in with
    the session's ed25519 key only (``IdentitiesOnly``, ``BatchMode``), never with a password.

The server runs as the current user (root in CI: ``PermitRootLogin prohibit-password`` and
``StrictModes no``), with a temporary host key and one authorised test key generated per
session.  Its sessions get this interpreter's folder first on PATH (``SetEnv``), so
``python3`` on the "host" is the Python running the tests.  Everything skips cleanly when
``sshd`` / ``ssh`` / ``ssh-keygen`` are absent (``.ci/run`` installs them).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
SSH = shutil.which("ssh")
KEYGEN = shutil.which("ssh-keygen")


def have_openssh() -> bool:
    return bool(SSHD and SSH and KEYGEN) and os.name == "posix"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: pathlib.Path) -> None:
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "dpgui-test", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True)


@dataclass
class SshServer:
    """One running sshd."""

    port: int
    root: pathlib.Path          # its private folder (config, host key, log)
    host_pub: str               # "ssh-ed25519 AAAA..." of its host key
    client_key: pathlib.Path    # the authorised private key (session-wide)
    proc: subprocess.Popen
    user: str = field(default_factory=lambda: _user())
    host: str = "127.0.0.1"

    @property
    def destination(self) -> str:
        """``user@127.0.0.1:PORT`` as dpgui's destination syntax writes it."""
        return f"{self.user}@{self.host}:{self.port}"

    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.host_pub}\n"

    def log(self) -> str:
        try:
            return (self.root / "sshd.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _user() -> str:
    import getpass

    return getpass.getuser()


class SshClient:
    """A per-test client configuration for one or more servers."""

    def __init__(self, folder: pathlib.Path, key: pathlib.Path):
        self.folder = folder
        self.key = key
        self.config = folder / "ssh_config"
        self.known_hosts = folder / "known_hosts"
        self.aliases: dict[str, SshServer] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text("")
        self.known_hosts.write_text("")

    def add(self, server: SshServer, alias: str | None = None) -> str:
        alias = alias or ("dpgui-test" if not self.aliases else f"dpgui-test-{len(self.aliases)}")
        with self.known_hosts.open("a") as f:
            f.write(server.known_hosts_line())
        with self.config.open("a") as f:
            f.write(
                f"Host {alias}\n"
                f"    HostName {server.host}\n"
                f"    Port {server.port}\n"
                f"    User {server.user}\n"
                f"    IdentityFile {self.key}\n"
                f"    IdentitiesOnly yes\n"
                f"    UserKnownHostsFile {self.known_hosts}\n"
                f"    GlobalKnownHostsFile /dev/null\n"
                f"    StrictHostKeyChecking yes\n"
                f"    PasswordAuthentication no\n"
                f"    KbdInteractiveAuthentication no\n"
                f"    BatchMode yes\n"
                f"    LogLevel ERROR\n\n"
            )
        self.aliases[alias] = server
        return alias

    @property
    def alias(self) -> str:
        return next(iter(self.aliases))

    @property
    def server(self) -> SshServer:
        return self.aliases[self.alias]

    def ssh_argv(self, alias: str | None = None) -> list[str]:
        """A plain ``ssh`` argv to this client's server (for checks from the test side)."""
        return [SSH, "-F", str(self.config), alias or self.alias]

    def run(self, command: str, alias: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.ssh_argv(alias) + [command], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)


class _Factory:
    def __init__(self, base: pathlib.Path):
        self.base = base
        self.servers: list[SshServer] = []
        base.mkdir(parents=True, exist_ok=True)
        self.client_key = base / "id_ed25519"
        _keygen(self.client_key)

    def __call__(self, env: dict[str, str] | None = None) -> SshServer:
        """Start one more sshd; ``env``: more variables for its sessions (e.g. a HOME of
        its own, so two servers on one machine look like two nodes)."""
        root = self.base / f"sshd{len(self.servers)}"
        root.mkdir()
        host_key = root / "host_ed25519"
        _keygen(host_key)
        auth = root / "authorized_keys"
        auth.write_text(self.client_key.with_suffix(".pub").read_text())
        auth.chmod(0o600)
        pid = root / "sshd.pid"
        path = os.pathsep.join([os.path.dirname(sys.executable),
                                "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"])
        # sshd refuses to start as root without its privilege separation folder.
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        last_error = ""
        for _attempt in range(5):  # a free port can be taken between probe and bind
            port = _free_port()
            cfg = root / "sshd_config"
            cfg.write_text(
                f"Port {port}\n"
                "ListenAddress 127.0.0.1\n"
                f"HostKey {host_key}\n"
                f"PidFile {pid}\n"
                f"AuthorizedKeysFile {auth}\n"
                "PubkeyAuthentication yes\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "PermitRootLogin prohibit-password\n"
                "StrictModes no\n"
                "UsePAM no\n"
                "MaxSessions 100\n"
                "MaxStartups 100:30:200\n"
                "LogLevel ERROR\n"
                f"SetEnv PATH={path}"       # one SetEnv line: sshd takes only the first
                + "".join(f" {k}={v}" for k, v in (env or {}).items()) + "\n"
                "Subsystem sftp internal-sftp\n"
            )
            log = (root / "sshd.log").open("ab")
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
            log.close()
            deadline = time.monotonic() + 30
            up = False
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        s.settimeout(5)
                        up = s.recv(4).startswith(b"SSH-")
                        break
                except OSError:
                    time.sleep(0.05)
            if up:
                server = SshServer(port=port, root=root,
                                   host_pub=" ".join(host_key.with_suffix(".pub").read_text().split()[:2]),
                                   client_key=self.client_key, proc=proc)
                self.servers.append(server)
                return server
            proc.kill()
            proc.wait()
            last_error = (root / "sshd.log").read_text(errors="replace")
        raise RuntimeError(f"sshd did not start: {last_error}")

    def close(self) -> None:
        for s in self.servers:
            s.stop()


@pytest.fixture(scope="session")
def sshd_factory(tmp_path_factory):
    if not have_openssh():
        pytest.skip("OpenSSH (sshd, ssh, ssh-keygen) is not installed")
    factory = _Factory(tmp_path_factory.mktemp("sshd"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def sshd(sshd_factory) -> SshServer:
    return sshd_factory()


@pytest.fixture
def ssh_client(sshd, sshd_factory, tmp_path) -> SshClient:
    client = SshClient(tmp_path / "ssh", sshd_factory.client_key)
    client.add(sshd)
    return client
