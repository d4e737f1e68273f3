"""The sshd fixture itself: a real login with host-key verification, and a refusal when the
known_hosts entry does not match (the client must never fall back to trusting the host)."""
from __future__ import annotations

import subprocess


def test_login_runs_a_command_with_this_python(ssh_client):
    r = ssh_client.run("echo hello; python3 -c 'import sys; print(sys.version_info[0])'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hello", "3"]


def test_wrong_host_key_is_refused(ssh_client, sshd_factory, tmp_path):
    other = (tmp_path / "other")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pub = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    ssh_client.known_hosts.write_text(f"[127.0.0.1]:{ssh_client.server.port} {pub}\n")
    r = ssh_client.run("echo should-not-run")
    assert r.returncode == 255
    assert "should-not-run" not in r.stdout
    assert "host key" in r.stderr.lower() or "verification failed" in r.stderr.lower()


def test_two_servers_stand_for_two_nodes(ssh_client, sshd_factory):
    second = sshd_factory()
    alias = ssh_client.add(second)
    assert second.port != ssh_client.server.port
    r = ssh_client.run("echo two", alias=alias)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "two"
