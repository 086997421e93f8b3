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
