"""The `hopsharbor` command: one entry point, subcommands contributed by each package.

Each module in COMMAND_MODULES has `register(subparsers) -> None`, which adds its subcommands
with `parser.set_defaults(func=handler)`; a handler takes the parsed arguments and returns the
process exit code. Settings are read by the handler (one frozen settings object per process),
never at import.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "COMMAND_MODULES"]

COMMAND_MODULES: tuple[str, ...] = (
    "connectors.cli",  # hopsharbor connector run | offsets show|set|reset
    "streams.commands",  # hopsharbor worker | reconcile | replay
    "streams.images.cli",  # hopsharbor base-image build|push
    "streams.tools.simulate",  # hopsharbor simulate
    "streams.tools.verify",  # hopsharbor verify
    "streams.tools.status",  # hopsharbor status
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hopsharbor",
        description="Mirror Hopsworks tenants into Harbor from the MySQL binlog.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a package that is not there yet
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if logging.getLogger().level > logging.DEBUG:
        # the Kafka clients log every connection at INFO: noise next to what a command reports
        for name in ("kafka", "aiokafka"):
            logging.getLogger(name).setLevel(logging.WARNING)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
