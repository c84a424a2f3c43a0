"""How long the reliability tests (marked ``soak``) run: short by default, as `make test` runs them;
long under `make soak`, which sets these variables (see the Makefile; CI sets them short).

Read once, when pytest imports this module: tests/conftest.py removes every CHUCHU_* variable
from the environment of each test, so a test that looked them up itself would find none.
"""

from __future__ import annotations

import os


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


# Seconds of load of each load test (tests/integration/test_load.py).
SECONDS = _number("CHUCHU_SOAK_SECONDS", 15)
# Builds killed at random moments (tests/integration/test_faults.py), and the moments' seed.
TRIALS = int(_number("CHUCHU_SOAK_TRIALS", 3))
SEED = int(_number("CHUCHU_SOAK_SEED", 0))
# Megabytes of the one-line corpus file (tests/unit/test_bad_corpus.py).
LINE_MB = _number("CHUCHU_SOAK_LINE_MB", 6)
# Examples per property of the fuzz tests.
FUZZ_EXAMPLES = int(_number("CHUCHU_FUZZ_EXAMPLES", 40))
