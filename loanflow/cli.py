"""Command line of loanflow's processes: ``python -m loanflow.cli <command>``.

- ``migrate [SERVICE…]``: upgrade databases (all services by default).
- ``relay SERVICE``: run a service's outbox relay and periodic jobs.
- ``revision SERVICE|shared -m MESSAGE``: autogenerate a migration of a service's own tables, or
  of the tables every service shares (developers; see ``common.database.migrations``).
- ``embedded``: the whole system in one process (``make run``).
- ``gateway``: the HTTP/WebSocket gateway in front of separate service processes.
- ``staff add USERNAME --role ROLE`` / ``staff password USERNAME`` / ``staff ensure-admin``:
  staff accounts (passwords from standard input; :mod:`loanflow.staff`).

Each command reads its settings from the environment once, here or in the entrypoint it calls
(``common.service.entrypoints``), and passes them down.
"""

from __future__ import annotations

import argparse

from common.identity.roles import ROLES
from common.kernel.settings import SERVICES, Settings


def _staff_parser(commands: argparse._SubParsersAction) -> None:
    staff = commands.add_parser("staff", help="staff accounts (passwords read from standard input)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_commands.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    password = staff_commands.add_parser("password", help="set an account's password")
    password.add_argument("username")
    staff_commands.add_parser("ensure-admin", help="create the first account, 'admin', unless it exists")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m loanflow.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate", help="upgrade service databases")
    # No ``choices`` here: argparse checks a ``nargs="*"`` default against them as one value and
    # refuses the bare ``migrate`` that ``make run-services`` runs. Names are checked below.
    migrate.add_argument("services", nargs="*", metavar="SERVICE", help=f"one of {', '.join(SERVICES)} (default: all)")
    relay = commands.add_parser("relay", help="run a service's outbox relay")
    relay.add_argument("service", choices=SERVICES)
    revision = commands.add_parser("revision", help="autogenerate a migration")
    revision.add_argument("service", choices=[*SERVICES, "shared"],
                          help="a service's own tables, or 'shared': the tables every service has")
    revision.add_argument("-m", "--message", required=True)
    embedded = commands.add_parser("embedded", help="run everything in one process")
    embedded.add_argument("--host", default="127.0.0.1")
    embedded.add_argument("--port", type=int, default=8000)
    gateway = commands.add_parser("gateway", help="run the gateway")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8000)
    _staff_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "migrate" and (unknown := set(args.services) - set(SERVICES)):
        parser.error(f"migrate: unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICES)}")

    from common.service import entrypoints

    if args.command == "migrate":
        for service in args.services or SERVICES:
            entrypoints.migrate(service)
    elif args.command == "relay":
        entrypoints.run_relay(args.service)
    elif args.command == "revision":
        from common.database.migrations import SHARED
        from common.database.migrations import revision as make_revision

        # The shared tables are compared on loan's database: every service database has them.
        service = SERVICES[0] if args.service == SHARED else args.service
        make_revision(entrypoints.load_definition(service), Settings.from_env(service).database_url,
                      args.message, branch=args.service)
    elif args.command == "embedded":
        from loanflow.embedded import serve
        from loanflow.settings import EmbeddedSettings

        serve(EmbeddedSettings.from_env(), args.host, args.port)
    elif args.command == "staff":
        from loanflow.staff import main as staff_main

        raise SystemExit(staff_main(args.staff_command, getattr(args, "username", None), getattr(args, "role", None)))
    elif args.command == "gateway":
        from loanflow.gateway import serve as serve_gateway
        from loanflow.settings import GatewaySettings

        serve_gateway(GatewaySettings.from_env(), args.host, args.port)


if __name__ == "__main__":
    main()
