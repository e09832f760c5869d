"""The environment is read in one module, and what it reads is what the documentation lists.

Three checks keep "one ``Settings`` read once" true as the code moves: no module but
``common/kernel/environment.py`` touches ``os.environ`` (read with ``ast``, nothing imported); every
variable the settings classes read is in docs/operations.md's configuration table with the
processes that read it, and the other way round; every variable the README, the docs and the
deployment files name is in that table. The rest are unit tests of the settings themselves.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from common.kernel.settings import SERVICES, Settings, SmtpSettings, prometheus_multiproc_dir
from loanflow.settings import DEFAULT_PORTS, EmbeddedSettings, GatewaySettings, MailCatcherSettings
from loanflow.staff import first_admin_password

ROOT = Path(__file__).resolve().parents[2]
#: The one module that reads the environment (for common/kernel/settings.py and the others).
SETTINGS_MODULE = "common/kernel/environment.py"
#: Modules that may read it too, and why.
EXCEPTIONS: set[str] = set()  # the bureau simulator reads its BUREAU_* variables through Environment too
#: What reading or changing the environment looks like.
ENVIRON_NAMES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})
#: Variables of the README, docs and deployment files that no loanflow code reads, and why.
NOT_OURS = {
    "LOANFLOW_HTTP_PORT": "docker compose: the published port of the gateway",
    "LOANFLOW_IMAGE": "docker compose: the image to run",
    "LOANFLOW_PREFETCH": "deploy/rabbitmq/README.md says that nothing reads it",
    "dramatiq_prom_db": "read by Dramatiq's exporter only",
}
#: The processes of the table's "read by" column, and how each reads its settings.
READERS: dict[str, Callable[[Mapping[str, str]], object]] = {
    "services": lambda env: [Settings.from_env(name, env) for name in SERVICES],
    "gateway": GatewaySettings.from_env,
    "mail catcher": MailCatcherSettings.from_env,
    "embedded": EmbeddedSettings.from_env,
    "metrics": prometheus_multiproc_dir,
    "staff command": first_admin_password,
}


def _python_files() -> Iterator[Path]:
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("tests", "bench", "var") or relative.parts[0].startswith("."):
            continue
        yield path


def _environment_uses(tree: ast.AST) -> Iterator[int]:
    """Line numbers where ``tree`` reads or writes the environment."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            names = [node.attr]
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = [alias.name for alias in node.names]
        else:
            continue
        if ENVIRON_NAMES.intersection(names):
            yield node.lineno


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {}
    for path in _python_files():
        relative = path.relative_to(ROOT).as_posix()
        lines = list(_environment_uses(ast.parse(path.read_text(), str(path))))
        if lines and relative != SETTINGS_MODULE:
            readers[relative] = lines
    assert set(readers) == EXCEPTIONS, "read the environment with common/kernel/environment.py and pass the value down"
    assert list(_environment_uses(ast.parse((ROOT / SETTINGS_MODULE).read_text())))


def test_the_scan_sees_reads_and_writes() -> None:
    source = "import os\nfrom os import getenv\nos.environ['A'] = '1'\nos.environ.setdefault('B', '')\n"
    assert list(_environment_uses(ast.parse(source))) == [2, 3, 4]


class Recording(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _table() -> dict[str, set[str]]:
    """``{variable: {reader, …}}`` from docs/operations.md's configuration table, patterns expanded."""
    section = (ROOT / "docs" / "operations.md").read_text().split("\n## Configuration\n", 1)[1]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\| `([^`]+)` \|[^|]*\| ([^|]+) \|", line)
        if not match:
            continue
        readers = {reader.strip() for reader in match.group(2).split(",")}
        for name in _expand(match.group(1)):
            table[name] = readers
    return table


def _expand(name: str) -> list[str]:
    return [name.replace("<SERVICE>", service.upper()) for service in SERVICES] if "<SERVICE>" in name else [name]


def _reads() -> dict[str, set[str]]:
    """``{variable: {reader, …}}`` as the settings classes actually read them."""
    reads: dict[str, set[str]] = {}
    for reader, read in READERS.items():
        environ = Recording()
        read(environ)
        for name in environ.asked:
            reads.setdefault(name, set()).add(reader)
    return reads


def test_the_configuration_table_lists_what_each_process_reads() -> None:
    table, reads = _table(), _reads()
    assert set(table) >= {"LOAN_DATABASE_URL", "LOANFLOW_UPSTREAM_NOTIFY", "SMTP_HOST", "LOANFLOW_MAIL_DIR"}
    assert sorted(set(reads) - set(table)) == [], "read but not in docs/operations.md § Configuration"
    assert sorted(set(table) - set(reads)) == [], "in docs/operations.md § Configuration but read by nothing"
    assert {name: readers for name, readers in table.items() if reads[name] != readers} == {}, \
        "the table's 'read by' column is not what the code reads"


def test_every_variable_the_documentation_names_is_in_the_table() -> None:
    files = [ROOT / "README.md", ROOT / "Procfile", *(ROOT / "docs").glob("*.md"),
             *(path for path in (ROOT / "deploy").rglob("*") if path.is_file() and path.suffix != ".py")]
    pattern = re.compile(r"\b(?:(?:LOANFLOW|SMTP|BUREAU)_[A-Z_]*[A-Z]|[A-Z]+_DATABASE_URL|BROKER_URL|"
                         r"VALUATION_DELAY_MS|PROMETHEUS_MULTIPROC_DIR|RABBITMQ_MANAGEMENT_URL|dramatiq_prom_[a-z]+)\b")
    named = {name for path in files for name in pattern.findall(path.read_text(errors="replace"))}
    named -= {"LOANFLOW_UPSTREAM"}  # the k8s README's "LOANFLOW_UPSTREAM_*"
    assert sorted(named - set(_table()) - set(NOT_OURS)) == []


def test_defaults_of_the_environment_are_the_defaults_of_the_fields(tmp_path: Path) -> None:
    env = {"LOANFLOW_VAR_DIR": str(tmp_path)}
    for service in SERVICES:
        assert Settings.from_env(service, env) == Settings(service=service,
                                                          database_url=f"sqlite:///{tmp_path / service}.db")
    services = {service: Settings.from_env(service, env) for service in SERVICES}
    assert EmbeddedSettings.from_env(env) == EmbeddedSettings(services=services, var_dir=tmp_path)
    assert GatewaySettings.from_env({}) == GatewaySettings()
    assert MailCatcherSettings.from_env({}) == MailCatcherSettings()
    assert prometheus_multiproc_dir({}) == ""


def test_values_are_typed() -> None:
    settings = Settings.from_env("credit", {
        "CREDIT_DATABASE_URL": " postgresql+psycopg://db/credit ", "LOANFLOW_DB_POOL_SIZE": "3",
        "LOANFLOW_RELAY_POLL_SECONDS": "0.05", "LOANFLOW_ALLOWED_ORIGINS": "https://a.example, ,https://b.example",
        "LOANFLOW_LOG_LEVEL": "debug", "LOANFLOW_METRICS_PORT": "9302", "dramatiq_prom_port": "9192",
        "RABBITMQ_MANAGEMENT_URL": "http://guest:guest@mq:15672", "SMTP_HOST": "mail", "SMTP_STARTTLS": "Yes",
        "SMTP_PASSWORD": " secret ", "LOANFLOW_FAULT_EXIT_AFTER_PUBLISH": "1",
        "LOANFLOW_PUBLIC_URL": "https://loans.example/",
    })
    assert settings.database_url == "postgresql+psycopg://db/credit"
    assert (settings.db_pool_size, settings.db_max_overflow, settings.relay_poll_interval) == (3, 4, 0.05)
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert (settings.log_level, settings.metrics_port, settings.metrics_host) == ("DEBUG", 9302, "127.0.0.1")
    assert settings.dramatiq_exporter and settings.fault_exit_after_publish
    assert settings.rabbitmq_management_url == "http://guest:guest@mq:15672"
    assert settings.smtp == SmtpSettings(host="mail", starttls=True, password=" secret ")
    assert settings.public_url == "https://loans.example"


def test_the_gateway_reads_its_upstreams() -> None:
    settings = GatewaySettings.from_env({"LOANFLOW_UPSTREAM_LOAN": "http://loan-web:8001",
                                         "LOANFLOW_MAX_BODY_BYTES": "1000"})
    assert settings.upstreams["loan"] == "http://loan-web:8001"
    assert settings.upstreams["notify"] == f"http://127.0.0.1:{DEFAULT_PORTS['notify']}"
    assert settings.max_body_bytes == 1000


def test_the_embedded_mode_reads_its_demo_defaults_unless_set() -> None:
    assert EmbeddedSettings.from_env({}).bureau_latency_ms == "300"
    assert EmbeddedSettings.from_env({}).valuation_delay_ms == 400
    config = EmbeddedSettings.from_env({"BUREAU_LATENCY_MS": "0", "VALUATION_DELAY_MS": "0", "SMTP_HOST": "mx",
                                        "LOANFLOW_HTTP_THREADS": "8", "LOANFLOW_MAIL_PORT": "2525"})
    assert (config.bureau_latency_ms, config.valuation_delay_ms, config.http_threads) == ("0", 0, 8)
    assert not config.catch_mail and config.mail_port == 2525
    assert EmbeddedSettings.from_env({}).catch_mail



def test_the_gateway_routes_from_its_settings() -> None:
    from loanflow.gateway import build_app

    app = build_app(GatewaySettings(upstreams={name: f"http://{name}-web" for name in SERVICES}))
    assert app["upstreams"] == {**{name: f"http://{name}-web" for name in SERVICES}, "tasks": "http://notify-web",
                                "auth": "http://loan-web"}
