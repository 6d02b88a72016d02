"""Real Ray clusters and an MLflow server for tests, started and stopped by this process only
(`ray stop` would end every Ray instance on the machine, other people's included).

- `start_head`: a head on 127.0.0.1 with token authentication (Ray's default for local clusters);
- `start_private_worker`: a second node in its own mount namespace with a fresh tmpfs on /tmp, so
  it sees none of the head's scratch (its temp dir, the job's unpacked working dir), like another
  machine; both share the network, so 127.0.0.1 reaches the head;
- `mlflow_server`: `mlflow server` on 127.0.0.1, as a cluster's head runs it;
- `ssh_node`: a user reached over SSH at 127.0.0.1, the machine `ray up` sets up (local provider)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """A CLI call; retried while a fresh head's job agent is not up yet (seconds on a busy machine).
    A None in `env` unsets that variable."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    env = {key: value for key, value in env.items() if value is not None}
    timeout = kwargs.pop("timeout", 600)
    for _ in range(30):
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
        if "No available agent to submit job" not in result.stderr:
            return result
        time.sleep(2)
    return result


def ray_state(dashboard: str, env: dict, what: str, *args: str) -> list[dict]:
    """`ray list WHAT` as JSON (the CLI: it carries the cluster's auth token from `env`)."""
    import json

    result = run(
        [str(BIN / "ray"), "list", what, "--address", dashboard, "--format", "json", "--limit", "1000", *args], env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def wait_for(condition, timeout: float, what: str):
    """The first truthy value of condition(), polled each second."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(1)
    return value


def auth_env() -> dict:
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "PATH": f"{BIN}:{os.environ['PATH']}"}


def stop_processes(marker: str) -> None:
    """Stop the processes whose command line holds `marker` (a cluster's own temp dir), and their children."""
    import psutil

    roots = [p for p in psutil.process_iter(["cmdline"]) if any(marker in part for part in p.info["cmdline"] or [])]
    family = {p.pid: p for p in roots}
    for root in roots:
        try:
            family.update({child.pid: child for child in root.children(recursive=True)})
        except psutil.NoSuchProcess:
            pass
    for process in family.values():
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(family.values()), timeout=20)
    for process in alive:
        process.kill()


@contextmanager
def start_head(env: dict, num_cpus: int = 2, resources: str | None = None, port: int | None = None, extra=()):
    """Yields (dashboard URL, GCS address) of a new head node; `extra` are more `ray start` flags."""
    port, dashboard, agent = port or free_port(), free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths must fit
    args = [
        str(BIN / "ray"),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={agent}",  # not the default: another Ray may hold it
        f"--num-cpus={num_cpus}",
        "--include-dashboard=true",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        *([f"--resources={resources}"] if resources else []),
        *extra,
    ]
    try:
        start = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**env, "RAY_ADDRESS": ""})
        assert start.returncode == 0, start.stdout + start.stderr
        yield f"http://127.0.0.1:{dashboard}", f"127.0.0.1:{port}"
    finally:
        stop_processes(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@contextmanager
def start_private_worker(gcs_address: str, env: dict, num_cpus: int = 2, resources: str | None = None):
    """A worker node whose /tmp is its own (a tmpfs in a private mount namespace). Yields its temp dir."""
    temp_dir = f"/tmp/raywork-{secrets.token_hex(4)}"  # inside the private /tmp: invisible to the head
    ray_start = " ".join(
        [
            str(BIN / "ray"),
            "start",
            f"--address={gcs_address}",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={num_cpus}",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            f"--dashboard-agent-listen-port={free_port()}",
            *([f"--resources='{resources}'"] if resources else []),
        ]
    )
    keep = Path(tempfile.mkdtemp(prefix="rayorig-", dir="/var/tmp"))
    script = f"{private_tmp(keep, kept_under_tmp())} && {ray_start}"
    try:
        start = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=300,
            env={**env, "RAY_ADDRESS": ""},
        )
        assert start.returncode == 0, start.stdout + start.stderr
        yield temp_dir
    finally:
        stop_processes(temp_dir)
        keep.rmdir()


def kept_under_tmp() -> list[str]:
    """The top folders under /tmp that a private /tmp must still show: this checkout and its venv
    when they live there (else the worker node errors `ray: not found`)."""
    from locations import REPO

    paths = {REPO.resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    under = [p.relative_to("/tmp").parts for p in paths if p.is_relative_to("/tmp")]
    return sorted({f"/tmp/{parts[0]}" for parts in under if parts})


def private_tmp(keep: Path, kept: list[str]) -> str:
    """Shell commands, for a private mount namespace: a fresh tmpfs on /tmp, with the `kept`
    folders of the old /tmp bound back in place (the old /tmp is reached through `keep`)."""
    steps = [f"mount --bind /tmp {keep}", "mount -t tmpfs -o size=8g tmpfs /tmp"]
    for folder in kept:
        steps += [f"mkdir -p {folder}", f"mount --bind {keep}/{folder.removeprefix('/tmp/')} {folder}"]
    return " && ".join(steps)


def kuberay_mlflow_args() -> tuple[str, ...]:
    """The --allowed-hosts argument of docs/kuberay/mlflow.yaml's server (MLflow >= 3.5 answers 403
    to a Host it does not allow, e.g. the Service name `mlflow:5000`)."""
    import yaml

    from locations import REPO

    documents = yaml.safe_load_all((REPO / "docs" / "kuberay" / "mlflow.yaml").read_text())
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return tuple(arg for arg in container["args"] if arg.startswith("--allowed-hosts="))


@contextmanager
def mlflow_server(folder: Path, extra: tuple[str, ...] = ()):
    """`mlflow server` with a sqlite backend and artifacts served from `folder` (`extra`: more
    arguments); yields its URI."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its gunicorn/uvicorn workers
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (folder / "server.log").read_text()
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


# --- A machine reached over SSH, for Ray's cluster launcher (`ray up` with the local provider) ---


@dataclass
class SshNode:
    """A non-root user without sudo, reached as user@127.0.0.1 by Debian's sshd with its own host
    and user keys. Ray's SSH runner has no port option and port 22 is a fixed well-known port, so
    each connection runs `sshd -i` (inetd mode) through the ssh client's ProxyCommand: the real
    daemon, key authentication and privilege drop, and nothing left listening."""

    user: str
    home: Path
    key: Path
    proxy_command: str

    def run(self, *command: str, **kwargs) -> subprocess.CompletedProcess:
        """A command as the user on this machine (no SSH): checks of what the node sees."""
        return subprocess.run(["runuser", "-u", self.user, "--", *command], capture_output=True, text=True, **kwargs)

    def processes(self) -> list:
        import psutil

        return [p for p in psutil.process_iter(["username", "name", "cmdline"]) if p.info["username"] == self.user]


def ssh_node_missing() -> str | None:
    """Why an SSH node cannot be made here, or None."""
    if os.geteuid() != 0:
        return "making a user for the SSH node needs root (CI runs as root)"
    for tool in ("/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/rsync", "/usr/sbin/useradd", "/usr/sbin/runuser"):
        if not Path(tool).exists():
            return f"{tool} is missing (scripts/test.sh installs openssh-server and rsync)"
    return None


@contextmanager
def ssh_node(folder: Path):
    """Yields an SshNode: a fresh user (removed afterwards with its home and processes) whose
    temp folder is its own (TMPDIR in ~/.bashrc, which the launcher's shells source), like a
    machine of its own: this machine's /tmp/ray belongs to other Ray instances."""
    user = f"otl{secrets.token_hex(4)}"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True, capture_output=True)
    try:
        subprocess.run(["usermod", "-p", "*", user], check=True)  # no password, but not locked (sshd refuses locked)
        home = Path(f"/home/{user}")
        for name in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
        node = SshNode(user, home, folder / "user_key", f"/usr/sbin/sshd -i -f {folder / 'sshd_config'}")
        (folder / "sshd_config").write_text(
            f"HostKey {folder / 'host_key'}\nAuthorizedKeysFile .ssh/authorized_keys\nAllowUsers {user}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nUsePAM no\n"
            "LogLevel ERROR\nPidFile none\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
        profile = f"export TMPDIR=$HOME/tmp\nmkdir -p $TMPDIR\n{(home / '.bashrc').read_text()}"
        (home / ".bashrc").write_text(profile)  # first: before Debian's early return for non-interactive shells
        node.run("install", "-d", "-m", "700", f"{home}/.ssh", check=True)
        shutil.copy(folder / "user_key.pub", home / ".ssh" / "authorized_keys")
        shutil.chown(home / ".ssh" / "authorized_keys", user, user)
        yield node
    finally:
        for process in SshNode(user, Path(), Path(), "").processes():
            try:
                process.kill()
            except Exception:
                pass
        subprocess.run(["userdel", "--remove", user], capture_output=True)


@contextmanager
def sentinel_ray_process(folder: Path):
    """A root process named `raylet` (a copy of sleep): `ray stop` as another user must leave it."""
    raylet = folder / "raylet"
    shutil.copy("/bin/sleep", raylet)
    process = subprocess.Popen([str(raylet), "3600"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()
