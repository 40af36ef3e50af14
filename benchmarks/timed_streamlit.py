"""``streamlit`` with every script run's wall-clock span logged, for the browser benchmarks.

Usage: ``python benchmarks/timed_streamlit.py run app.py [streamlit options]`` with
``CLEF_RUN_LOG=FILE`` set: each script (or fragment) run appends ``start end`` (Unix seconds) to
FILE when it ends. The page's clock (``performance.timeOrigin``) is the same wall clock, so a
click's time splits into the server's run and the browser's drawing.
"""
from __future__ import annotations

import os
import sys
import time

from streamlit.runtime.scriptrunner import script_runner
from streamlit.web import cli

LOG = os.environ["CLEF_RUN_LOG"]
_run_script = script_runner.ScriptRunner._run_script


def _timed_run_script(self, rerun_data):
    start = time.time()
    try:
        return _run_script(self, rerun_data)
    finally:
        with open(LOG, "a") as fh:
            fh.write(f"{start:.4f} {time.time():.4f}\n")


script_runner.ScriptRunner._run_script = _timed_run_script

if __name__ == "__main__":
    sys.argv = ["streamlit", *sys.argv[1:]]
    sys.exit(cli.main())
