"""Shared test set-up: a private compile cache and the hypothesis profiles.

Two profiles of the suite:

* the default run (``python -m pytest``; ``setup.cfg`` adds ``-m "not slow" -n auto``) checks every
  property on a few examples and small sizes, in under three minutes on two cores from a cold cache;
* the slow profile (``python -m pytest -m slow``) runs the full-strength versions: tests marked
  ``slow``, among them the ``*_full`` copies of property tests with many more examples
  (``tests/strength.py``), the 200- and 3000-example random-graph runs, the LaTeX round trip of every
  option at every size, all the bad-input cases in real processes and the large tracking runs.
  ``python -m pytest -m "slow or not slow"`` runs both.

Property tests that do not set their own number of examples follow the hypothesis profile
``HYPOTHESIS_PROFILE`` (``ci``, the default: 25 examples; ``thorough``: 300).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))

# The suite never writes to the user's cache: generated code goes to a directory under the system's
# temporary directory (kept between runs, so a second run is warm), unless STATVAE_TEST_CACHE_DIR names
# another one.  Subprocesses (CLI tests) inherit it.
os.environ["STATVAE_CACHE_DIR"] = os.environ.get("STATVAE_TEST_CACHE_DIR") or os.path.join(
    tempfile.gettempdir(), f"statvae-test-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}")

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
