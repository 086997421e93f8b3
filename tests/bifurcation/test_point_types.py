"""Special points carry typed kinds and statuses (enums that read and save as their plain words)."""

import json

import numpy as np
import pytest

import statvae
from statvae.bifurcation import BifurcationDiagram, PointKind, PointStatus, SpecialPoint
from statvae.errors import DataError


def test_kinds_and_statuses_are_enums_that_round_trip(tmp_path):
    d = statvae.track(statvae.LinearVAE(3, 2), spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5, switching=False)
    pts = d.special_points()
    assert pts and all(isinstance(s.kind, PointKind) and isinstance(s.status, PointStatus) for s in pts)
    assert all(s.kind == "branch point" and f"{s.status}" == "located" for s in pts)
    for suffix in ("json", "npz"):
        again = BifurcationDiagram.load(d.save(tmp_path / f"d.{suffix}"))
        assert again == d
        assert all(isinstance(s.kind, PointKind) for s in again.special_points())
    assert json.loads(json.dumps({"kind": pts[0].kind}))["kind"] == "branch point"


def test_unknown_kind_or_status_is_refused():
    with pytest.raises(DataError, match="special point"):
        SpecialPoint(0, "cusp", 0, 1.0, (0.9, 1.1), 0.1, "located", 1)
    s = SpecialPoint(0, "fold", 0, 1.0, (0.9, 1.1), 0.1, "detected", 1)
    s.status = "certified"
    assert s.status is PointStatus.CERTIFIED
    with pytest.raises(DataError, match="status"):
        s.status = "guessed"
    with pytest.raises(DataError, match="status"):  # through the constructor too (the dataclass assigns first)
        SpecialPoint(0, "fold", 0, 1.0, (0.9, 1.1), 0.1, "guessed", 1)
    assert np.isfinite(s.parameter)


def test_points_keep_no_driver_scratch_and_expose_typed_views():
    """The driver's working state (parent subspace, parent samples) stays out of the saved info."""
    d = statvae.track(statvae.LinearVAE(3, 2), spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5, depth=1)
    pts = d.special_points("branch point")
    assert pts
    for s in pts:
        assert not {"parent_subspace", "parent_near_threshold"} & set(s.info)
        assert s.certificate is None
        assert s.stability_change in (True, False)
    assert [s.stability_change for s in d.special_points("branch point", branch=0)] == [False, False, True]


@pytest.mark.parametrize("dps", [0, 4, 2.5, True, "30"])
def test_certification_digits_are_checked(dps):
    from statvae.bifurcation.certify import certify_diagram

    m = statvae.LinearVAE(3, 2)
    d = statvae.track(m, spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5, depth=0, switching=False)
    with pytest.raises(statvae.ModelError, match="dps must be an integer >= 5"):
        certify_diagram(m, d, dps=dps)
