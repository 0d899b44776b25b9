"""``jupyter mlinfra service``: run the central mlinfra service (REST API + jobs scheduler).

Every argument is the service application's (jupyter_server's options plus
``--tokens-file``): ``jupyter mlinfra service --port 8890 --tokens-file tokens.json``;
``jupyter mlinfra service --help-all`` lists them.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "service",
        add_help=False,
        help="run the central mlinfra service (the REST API and the jobs scheduler, as a "
        "JupyterHub service or with a static token table); --help-all for its options",
    )
    p.set_defaults(handler=lambda workspace, args: main([]))


def main(argv: list[str]) -> int:
    from ..server.service_app import MLInfraServiceApp

    MLInfraServiceApp.launch_instance(argv)
    return 0
