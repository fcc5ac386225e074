"""Every module imports on its own, whichever is imported first (no import cycles)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Third-party modules stay loaded between rounds (fast); every hrec_ingest
# module is forgotten, so each round imports its module first, as a process
# that starts there would.
PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys, traceback
    import hrec_ingest
    names = [m.name for m in pkgutil.walk_packages(hrec_ingest.__path__, "hrec_ingest.")]
    failed = []
    for name in names:
        if name.endswith("__main__"):
            continue
        for loaded in [m for m in sys.modules if m.startswith("hrec_ingest")]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name + ": " + traceback.format_exc(limit=1).splitlines()[-1])
    print(len(names))
    print("\\n".join(failed))
    """
)


def test_each_module_imports_first() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=100, check=True
    )
    count, *failures = done.stdout.splitlines()
    assert int(count) > 100
    assert [f for f in failures if f] == []
