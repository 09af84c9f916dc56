"""Running the migration subcommands in-process, as `capsule-proxy` would."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

from proxy.migrate import commands


def parser() -> argparse.ArgumentParser:
    """A parser shaped like capsule-proxy's: subcommands added by `commands.add_commands`."""
    root = argparse.ArgumentParser(prog="capsule-proxy")
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_commands(subparsers)
    return root


class TtyText(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*argv: str, stdin: bytes = b"", stderr: io.StringIO | None = None) -> tuple[int, bytes, str]:
    """(exit status, stdout bytes, stderr text) of one subcommand."""
    out, err = io.BytesIO(), stderr if stderr is not None else io.StringIO()
    status = commands.run(parser().parse_args(list(argv)), stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
