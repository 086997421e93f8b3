"""``statvae track --json`` reports the collapse diagnostics at the end of every branch."""

from __future__ import annotations

import json

import pytest

import statvae
from statvae.analysis.diagnostics import diagnose_tracked
from statvae.cli.main import main


def test_track_json_has_branch_diagnostics(capsys):
    code = main(["track", "--spectrum", "3,2,1", "--latent-dim", "2", "--start", "4", "--stop", "0.5", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    diags = {x["branch"]: x for x in d["diagnostics"]}
    m = statvae.LinearVAE(3, 2)
    dgm = statvae.track(m, spectrum=[3.0, 2.0, 1.0], parameter="sigma2", start=4, stop=0.5)
    assert set(diags) == {b.id for b in dgm.branches.values() if b.theta is not None and b.duplicate_of is None}
    for bid, x in diags.items():
        api = diagnose_tracked(m, dgm, branch=bid).to_dict()
        assert x["active_units"] == api["active_units"]
        assert x["mutual_information"] == pytest.approx(api["mutual_information"], rel=1e-9, abs=1e-12)
    assert diags[0]["active_units"] == 0 and max(x["active_units"] for x in diags.values()) == 2
