"""A sweep on a Dask LocalCluster (loopback, two workers) gives exactly the serial run's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from statvae.data import synthetic
from statvae.training.linear import LinearTrainer
from statvae.training.sweep import sweep

distributed = pytest.importorskip("distributed")


def _strip(result):
    return [{k: v for k, v in p.items() if k != "cpu_seconds"} for p in result.points]


@pytest.mark.parametrize("processes", [False, True])
def test_dask_cluster_matches_the_serial_run(processes):
    X = synthetic([3.0, 1.5, 0.5, 0.2], samples=200, seed=4)
    X = X - X.mean(axis=0)
    trainers = [LinearTrainer(2, epochs=15, batch_size=50, lr=1e-2),
                LinearTrainer(2, epochs=10, batch_size=50, lr=1e-2, exact=True)]
    kw = dict(grid=np.linspace(0.5, 3.5, 5), seeds=[0, 3], population=[3.0, 1.5, 0.5, 0.2], progress=False)
    serial = sweep(trainers, X, executor="serial", **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = sweep(trainers, X, client=client, **kw)
    assert on_dask.execution["kind"] == "dask" and on_dask.execution["workers"] == 2
    assert on_dask.execution["scheduler"].startswith("tcp://127.0.0.1")
    assert _strip(on_dask) == _strip(serial)
    assert on_dask.theory == serial.theory and on_dask.measured == serial.measured
    assert on_dask.predicted == serial.predicted
