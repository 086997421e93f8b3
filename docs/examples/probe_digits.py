"""The probe's collapse thresholds of MLP VAEs on digits, beside a training sweep's (docs/validation.md).

Run the sweep first, then this script on its JSON:

    statvae validate --dataset digits --latent-dim 4 --sigma2 0.3:1.1:17 --trainer mlp --hidden 64 \
        --hidden 128,128 --epochs 100 --seeds 3 --out validate_digits_mlp.json --plot validate_digits_mlp.png
    python docs/examples/probe_digits.py validate_digits_mlp.json [probe_digits.json]

For each architecture and chain of the sweep it rebuilds the chain's networks (same trainer configuration, same
per-point seeds, warm starts: the measures are checked against the sweep's records bit for bit) and runs
``probe_threshold`` on the network at its initialisation, after the first grid point, and at the last grid point
before the chain's measured full collapse.  It also probes the linear torch VAE (``hidden=()``) against
``critical()``.  Prints a markdown table; writes every result as JSON to the second argument if given.
"""

from __future__ import annotations

import json
import sys
import time


import statvae
from statvae.data import digits
from statvae.training.probe import probe_threshold
from statvae.training.sweep import SweepResult, derived_seed, prepare_samples
from statvae.training.torch_trainer import MLPTrainer


def trainer_of(config: dict) -> MLPTrainer:
    keys = ("latent_dim", "hidden", "activation", "lr", "epochs", "batch_size", "device", "dtype", "plateau",
            "plateau_window", "plateau_floor", "schedule", "eval_samples", "threads")
    return MLPTrainer(**{k: config[k] for k in keys})


def main(path: str, out: str | None = None) -> None:
    sw = SweepResult.load(path)
    X, _ = prepare_samples(digits())
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / len(X)
    crit = statvae.LinearVAE(X.shape[1], sw.latent_dim).collapse().critical("sigma2", covariance=S).value
    rows, results = [], {"critical_sample_moment": crit, "networks": []}
    t0 = time.process_time()
    lin = probe_threshold(MLPTrainer(sw.latent_dim, hidden=()), X)
    results["linear"] = lin.to_dict()
    rows.append(("linear torch VAE (hidden=())", "seeded initialisation", f"{lin.value:.10f}",
                 f"{(lin.value - crit) / crit:+.1e}", f"{lin.seconds:.0f}"))
    print(f"linear: {lin}  (critical() {crit:.12f}; {time.process_time() - t0:.0f} s CPU)", flush=True)
    for name, config in sw.trainers.items():
        trainer = trainer_of(config)
        full = next(m for n, m in sw.measured.items() if n == name)["full_collapse"]
        for seed in sw.seeds:
            recs = sorted((p for p in sw.points if p["trainer"] == name and p["seed"] == seed),
                          key=lambda p: p["index"])
            per_seed = next(p for p in full["per_seed"] if p["seed"] == seed)
            last_active = max(i for i, p in enumerate(recs) if p["sigma2"] <= per_seed["bracket"][0] + 1e-12)
            probes = {"initialisation": trainer.network(X.shape[1], seed=derived_seed(seed, 0))}
            state = None
            for i, rec in enumerate(recs[: last_active + 1]):
                assert rec["fit_seed"] == derived_seed(seed, i)
                fit = trainer.fit(X, sigma2=rec["sigma2"], beta=rec["beta"], seed=rec["fit_seed"], init=state)
                assert fit.measures["kl_per_latent"] == rec["measures"]["kl_per_latent"], "chain not reproduced"
                state = fit.state
                if i == 0 or i == last_active:
                    probes[f"trained to sigma2={rec['sigma2']:.3g}"] = trainer.network(X.shape[1], state)
            for label, net in probes.items():
                th = probe_threshold(net, X)
                results["networks"].append({"trainer": name, "seed": seed, "network": label,
                                            "measured_full_collapse": per_seed, "probe": th.to_dict()})
                rows.append((f"{name}, chain {seed}", label, f"{th.value:.6f}", f"{(th.value - crit) / crit:+.1%}",
                             f"{th.seconds:.0f}"))
                print(f"{name} seed {seed} {label}: {th.value:.6f} ({th.seconds:.0f} s CPU, {th.hvps} HVPs, "
                      f"dimension {th.dimension}, {th.flat_directions} flat); measured full collapse "
                      f"{per_seed['value']:.4f} {per_seed['bracket']}", flush=True)
    print("\n| network | where | probe threshold | vs critical() | CPU s |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
