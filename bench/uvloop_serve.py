"""`capsule-proxy ARGS` on uvloop's event loop, for the suite's one uvloop measurement.

    BENCH_UVLOOP=1 python -m bench.uvloop_serve serve --upstream URL --port 0

uvloop is not a dependency of the project: the suite puts it on PYTHONPATH from a throwaway
directory (bench/.uvloop, made by `pip install --target bench/.uvloop uvloop`), and this module
fails loudly when it is missing rather than measuring asyncio twice.
"""

from __future__ import annotations

import sys

import uvloop

from proxy.cli import main

if __name__ == "__main__":
    uvloop.install()
    sys.exit(main(sys.argv[1:]))
