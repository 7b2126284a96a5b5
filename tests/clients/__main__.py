"""``python -m tests.clients [LABEL...]``: prepare the named clients (all by default)."""

from __future__ import annotations

import sys

from tests.clients.catalog import ALL, by_label
from tests.clients.client import ClientPrepareError


def main(argv: list[str]) -> int:
    try:
        clients = [by_label(label) for label in argv] if argv else list(ALL)
        for client in clients:
            client.prepare()
            print(f"{client.label}: ready")
    except (KeyError, ClientPrepareError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
