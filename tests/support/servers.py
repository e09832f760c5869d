"""The test suite's own PostgreSQL cluster and RabbitMQ node, which it may crash at will.

``make test`` never touches the machine's servers: it starts a PostgreSQL cluster (``initdb`` into
a temporary directory, a free port, trust on loopback) and a RabbitMQ node (its own node name,
ports, data directory and Erlang cookie) on the production settings of
``deploy/rabbitmq/rabbitmq.conf``. So the suite works on a fresh machine whose PostgreSQL asks
loopback for a password, leaves a developer's running system alone, and its fault tests can
``kill -9`` the broker or stop PostgreSQL in immediate mode.

Code that runs outside pytest (``make bench``) uses :data:`MACHINE`: the servers that
``deploy/local/ensure_services.sh`` starts on the default ports.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
#: Free disk below which the test node blocks publishers (production: 1 GB, too much for a
#: developer's nearly full laptop; the memory alarm keeps its production value).
TEST_DISK_FREE_LIMIT = "50MB"


def _ephemeral_range() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port() -> int:
    """A TCP port nobody listens on, outside the kernel's ephemeral range.

    A port the kernel hands out for ``bind(0)`` is also one it hands to outgoing connections: a
    node restarted in a test could find its listening port taken by some client's socket.
    """
    ephemeral = _ephemeral_range()
    candidates = [p for p in range(20_000, 65_000) if p not in ephemeral and not 28_000 <= p < 50_000]
    for port in random.sample(candidates, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not port_open(port):
            return port
    raise RuntimeError("no free port outside the ephemeral range")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _binary(name: str) -> str:
    """A PostgreSQL server program: on PATH, else the newest of Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        raise FileNotFoundError(f"{name} not found: install Debian's postgresql package (make test does)")
    return candidates[-1]


def _as_owner(owner: str | None, command: list[str]) -> list[str]:
    """``command`` run as ``owner`` when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", owner, "--", *command] if owner else command


def _chown_tree(path: Path, owner: str) -> None:
    shutil.chown(path, owner, owner)
    for child in path.rglob("*"):
        shutil.chown(child, owner, owner)


@dataclass
class Postgres:
    """A PostgreSQL server: ``admin_url`` reaches it as the superuser ``postgres``."""

    port: int = 5432
    datadir: Path | None = None
    owner: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.datadir is not None, "the machine's PostgreSQL is not ours to stop"
        return subprocess.run(_as_owner(self.owner, [_binary("pg_ctl"), "-D", str(self.datadir), *args]),
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        result = self._ctl("start", "-w", "-t", "60", "-l", str(self.datadir / "server.log"))
        if result.returncode != 0:
            log = (self.datadir / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{log}")

    def stop(self, mode: str = "fast") -> None:
        """``mode="immediate"`` is a crash: no checkpoint, recovery from the WAL at the next start."""
        self._ctl("stop", "-w", "-m", mode)

    def running(self) -> bool:
        return port_open(self.port)


@dataclass
class RabbitMQ:
    """A RabbitMQ node: AMQP, management API and ``rabbitmqctl`` for it."""

    amqp_port: int = 5672
    management_port: int = 15672
    prometheus_port: int = 15692
    node: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    home: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def amqp_url(self, vhost: str = "") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{vhost}"

    @property
    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}"

    def ctl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl`` against this node."""
        node = ["-n", self.node] if self.node else []
        result = subprocess.run(["rabbitmqctl", *node, "-q", *args], env={**os.environ, **self.env},
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result

    def reset_vhost(self, vhost: str, attempts: int = 4) -> None:
        """An empty virtual host (queues of a previous run gone), guest allowed everywhere."""
        for attempt in range(attempts):
            try:
                self.ctl("delete_vhost", vhost, check=False)
                self.ctl("add_vhost", vhost)
                self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
                return
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                time.sleep(1 + attempt)

    def delete_vhost(self, vhost: str) -> None:
        self.ctl("delete_vhost", vhost, check=False)

    def setting(self, key: str) -> str:
        """A setting of the running node as Erlang prints it, e.g. ``{ok,1800000}``."""
        return self.ctl("eval", f"application:get_env(rabbit, {key}).").stdout.strip()

    def api(self, path: str) -> object:
        """A GET on the management API (``/api/...``), as JSON."""
        response = requests.get(f"http://127.0.0.1:{self.management_port}/api/{path.lstrip('/')}",
                                auth=("guest", "guest"), timeout=10)
        response.raise_for_status()
        return response.json()

    # --- our own node only ----------------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        """Boot the node (a new process) and wait until it serves AMQP and the management API."""
        assert self.home is not None, "the machine's RabbitMQ is not ours to start"
        log = open(self.home / "server.out", "ab")  # noqa: SIM115 - lives as long as the node
        self.process = subprocess.Popen(["rabbitmq-server"], env={**os.environ, **self.env}, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.ctl("await_startup", "--timeout", "5", check=False).returncode != 0:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ did not start:\n{self.tail()}")
            time.sleep(0.5)
        while not (port_open(self.amqp_port) and port_open(self.management_port)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ listeners did not open:\n{self.tail()}")
            time.sleep(0.3)

    def tail(self) -> str:
        path = self.home / "server.out" if self.home else None
        return path.read_text(errors="replace")[-3000:] if path and path.exists() else ""

    def kill(self) -> None:
        """``kill -9`` of the node: every process of it, no clean shutdown."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._kill_node_processes()
        self.process.wait(timeout=30)
        self.process = None

    def node_processes(self) -> list[int]:
        """Every process running this node, found by the ``RABBITMQ_NODENAME`` it was started with.

        Why not the process group: Debian's ``rabbitmq-server`` re-runs itself through ``su``, which
        starts a session of its own, so ``beam.smp`` is out of reach of the group we started; a
        ``killpg`` alone left one Erlang VM behind per test session (found by the benchmark).
        """
        marker = f"RABBITMQ_NODENAME={self.node}\0".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if marker in (entry / "environ").read_bytes():
                        found.append(int(entry.name))
        return found

    def _kill_node_processes(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while pids := self.node_processes():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} survived kill -9: {pids}")
            time.sleep(0.1)

    def stop(self) -> None:
        """A clean shutdown of the whole node (``rabbitmqctl stop``)."""
        if self.process is None:
            return
        self.ctl("stop", check=False)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._kill_node_processes()  # whatever outlived the clean stop
        self.process = None


@dataclass
class Servers:
    """The PostgreSQL server and RabbitMQ node a test session (or a benchmark) runs against."""

    postgres: Postgres
    rabbitmq: RabbitMQ


#: The machine's own servers (``make bench``, ``make run-services``).
MACHINE = Servers(Postgres(), RabbitMQ())
#: Passes the session's servers to the programs it starts (``python -m bench.run --smoke``).
ENV_VAR = "LOANFLOW_TEST_SERVERS"


def _from_env() -> Servers:
    """The servers named in ``$LOANFLOW_TEST_SERVERS`` (set by :func:`own_servers`), else MACHINE."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return MACHINE
    spec = json.loads(raw)
    return Servers(Postgres(port=spec["pg_port"]),
                   RabbitMQ(amqp_port=spec["amqp_port"], management_port=spec["management_port"],
                            node=spec["node"], env={"HOME": spec["rabbitmq_home"]}))


#: The servers of the running test session (the ``servers`` fixture), MACHINE otherwise.
current: Servers = _from_env()


def _system_user(name: str) -> str | None:
    """``name`` when we are root and that user exists (servers refuse or drop root)."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam(name)
    except KeyError as error:
        raise RuntimeError(f"user {name!r} missing: install the server's Debian package") from error
    return name


def start_postgres(base: Path) -> Postgres:
    """A new cluster in ``base/pg`` on a free port: trust on loopback, room for a whole system."""
    owner = _system_user("postgres")
    datadir = base / "pg"
    datadir.mkdir(mode=0o700)
    if owner:
        _chown_tree(datadir, owner)
    result = subprocess.run(_as_owner(owner, [_binary("initdb"), "-D", str(datadir), "-U", "postgres",
                                              "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
                                              "--no-sync"]),
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr}")
    port = free_port()
    # fsync off: the tests crash the server process, never the machine, and the OS keeps what was
    # written. Commits still wait for the WAL write, so "no 202 without a commit" is tested truly.
    settings = {"port": port, "listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{datadir}'",
                "max_connections": 400, "shared_buffers": "'128MB'", "fsync": "off",
                "full_page_writes": "off", "logging_collector": "off"}
    with (datadir / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    server = Postgres(port=port, datadir=datadir, owner=owner)
    server.start()
    return server


def start_rabbitmq(base: Path, *, as_deployed: bool = False) -> RabbitMQ:
    """A node named after this process on free ports, on the production ``rabbitmq.conf``.

    ``as_deployed``: that file as it is but for the ports, with the deployments' ``loanflow`` user
    (tests/checks boots it to prove the file works); else the test session's node: a smaller disk
    limit, a quieter console, fresher statistics and the ``guest`` user.
    """
    home = base / "rabbitmq"
    home.mkdir()
    ports = {"amqp": free_port(), "management": free_port(), "prometheus": free_port(), "dist": free_port()}
    (home / "rabbitmq.conf").write_text(_rabbitmq_conf(ports, as_deployed))
    shutil.copy(ROOT / "deploy/rabbitmq/enabled_plugins", home / "enabled_plugins")
    for sub in ("mnesia", "log"):
        (home / sub).mkdir()
    owner = _system_user("rabbitmq")
    if owner:  # Debian's rabbitmq-server drops to the rabbitmq user when started as root
        _chown_tree(home, owner)
    home.chmod(0o755)
    node = f"loanflow{'check' if as_deployed else 'test'}{os.getpid()}@localhost"
    user, password = ("loanflow", "check-password") if as_deployed else ("guest", "guest")
    env = {"HOME": str(home), "RABBITMQ_NODENAME": node, "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
           "RABBITMQ_MNESIA_BASE": str(home / "mnesia"), "RABBITMQ_LOG_BASE": str(home / "log"),
           "RABBITMQ_DIST_PORT": str(ports["dist"]), "RABBITMQ_DEFAULT_USER": user,
           "RABBITMQ_DEFAULT_PASS": password}
    node_ = RabbitMQ(amqp_port=ports["amqp"], management_port=ports["management"],
                     prometheus_port=ports["prometheus"], node=node, env=env, home=home)
    node_.start()
    return node_


def _rabbitmq_conf(ports: dict[str, int], as_deployed: bool) -> str:
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    for key, default, name in (("listeners.tcp.default", 5672, "amqp"), ("management.tcp.port", 15672, "management"),
                               ("prometheus.tcp.port", 15692, "prometheus")):
        conf = conf.replace(f"{key} = {default}", f"{key} = {ports[name]}")
    if as_deployed:
        return conf
    conf = conf.replace("disk_free_limit.absolute = 1GB", f"disk_free_limit.absolute = {TEST_DISK_FREE_LIMIT}")
    conf = conf.replace("log.console = true", "log.console = true\nlog.console.level = warning")
    # Queue counts in the management API are sampled; every 0.5 s (production: 5 s) so that a test
    # reading "messages in flight" or "redelivered" reads the present, not five seconds ago.
    return conf + "\ncollect_statistics_interval = 500\n"


@contextlib.contextmanager
def own_servers() -> Iterator[Servers]:
    """Start a PostgreSQL cluster and a RabbitMQ node side by side; stop and delete both on exit."""
    from concurrent.futures import ThreadPoolExecutor

    global current
    base = Path(tempfile.mkdtemp(prefix="loanflow-test-servers-", dir="/tmp"))
    base.chmod(0o755)
    with ThreadPoolExecutor(2) as pool:
        pg_future, mq_future = pool.submit(start_postgres, base), pool.submit(start_rabbitmq, base)
        try:
            postgres, rabbitmq = pg_future.result(), mq_future.result()
        except BaseException:
            for future, stop in ((pg_future, lambda s: s.stop("immediate")), (mq_future, RabbitMQ.stop)):
                if not future.exception():
                    stop(future.result())
            shutil.rmtree(base, ignore_errors=True)
            raise
    servers = Servers(postgres, rabbitmq)
    current = servers
    os.environ[ENV_VAR] = json.dumps({"pg_port": postgres.port, "amqp_port": rabbitmq.amqp_port,
                                      "management_port": rabbitmq.management_port, "node": rabbitmq.node,
                                      "rabbitmq_home": str(rabbitmq.home)})
    try:
        yield servers
    finally:
        current = MACHINE
        os.environ.pop(ENV_VAR, None)
        if rabbitmq.process is not None:  # thrown away with its data: no need for a clean stop
            rabbitmq.kill()
        postgres.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class NetProxy:
    """A :mod:`tests.support.netproxy` process in front of ``target`` (the tests' broker link)."""

    def __init__(self, target: int, log_path: Path) -> None:
        import sys

        self.port, self.control = free_port(), free_port()
        log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.netproxy", "--listen", str(self.port), "--target", str(target),
             "--control", str(self.control)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not (port_open(self.port) and port_open(self.control)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the network proxy did not start; see {log_path}")
            time.sleep(0.1)

    def _call(self, method: str, path: str, **json: object) -> dict[str, object]:
        response = requests.request(method, f"http://127.0.0.1:{self.control}{path}", json=json or None, timeout=10)
        response.raise_for_status()
        return response.json()

    def heal(self) -> None:
        self._call("PUT", "/mode", mode="pass")

    def blackhole(self) -> None:
        """Forward nothing, keep connections open (a silent network)."""
        self._call("PUT", "/mode", mode="blackhole")

    def degrade(self, latency_ms: float, jitter_ms: float = 0, stall_rate: float = 0, stall_ms: float = 0) -> None:
        self._call("PUT", "/mode", mode="degraded", latency_ms=latency_ms, jitter_ms=jitter_ms,
                   stall_rate=stall_rate, stall_ms=stall_ms)

    def reset(self) -> int:
        """Cut every open connection; returns how many there were."""
        return int(self._call("POST", "/reset")["closed"])  # type: ignore[arg-type]

    def stats(self) -> dict[str, object]:
        return self._call("GET", "/stats")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
