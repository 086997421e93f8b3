"""Full-strength copies of property tests for the slow profile (``pytest -m slow``).

The default run checks every property on a few examples; the slow profile
checks the same property on many.  A test module keeps its default test as
it is and adds the full-strength copy next to it::

    @settings(max_examples=8, deadline=None)
    @given(configs())
    def test_property(cfg):
        ...

    test_property_full = full_strength(test_property, configs(), max_examples=25, deadline=None)

The copy runs the same test body (the same assertions and tolerances), is
marked ``slow`` and draws from the strategies given to it (the default test's
strategies, or a wider pool).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings


def full_strength(test, *strategies, **settings_kw):
    """A ``slow``-marked copy of the ``@given`` test ``test``: its body, ``strategies``, ``settings(**settings_kw)``."""
    body = test.hypothesis.inner_test
    return pytest.mark.slow(settings(**settings_kw)(given(*strategies)(body)))
