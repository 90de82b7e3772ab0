"""`python -m connectors ARGS` = `hopsharbor connector ARGS` (used by tests that kill -9 the process)."""

import sys

from streams.cli import main

if __name__ == "__main__":
    sys.exit(main(["connector", *sys.argv[1:]]))
