#!/usr/bin/env python3
"""Writes Tests/VeilPrivacyTests/Resources/pld_reference.json: known answers for VeilPrivacy's PLD
accountant, computed with Google's dp_accounting privacy loss distributions (pessimistic estimates,
default value_discretization_interval 1e-4, tail_mass_truncation 1e-15, Connect-the-Dots for the
Gaussian and Laplace mechanisms, privacy buckets for the discrete ones — the library's defaults).

Veil's `gaussian` mechanism is not here: it may be discrete Gaussian noise, which Veil's PLD
accountant accounts by its RDP curve (docs/privacy.md); continuous Gaussian releases are written as
subsampled_gaussian with q = 1.

Each case lists mechanisms in Veil's JSON form (docs/privacy.md), a delta and the epsilon
dp_accounting reports; `delta_at_epsilon` cases give the inverse conversion. Mechanisms are composed
the way dp_accounting's PLDAccountant composes DpEvents: starting from the identity PLD, each one's
PLD (self-composed `count`/`steps` times) is composed in with tail_mass_truncation 1e-15.

Veil → dp_accounting (scripts/verify_audit.py's `pld_distribution`, which this script uses):
  subsampled_gaussian(q, σ, steps)    PoissonSampledDpEvent(q, GaussianDpEvent(σ)), steps times (q < 1);
                                      with q = 1, GaussianDpEvent(σ) steps times = one Gaussian, σ/√steps
  laplace(ε, count)                   LaplaceDpEvent(1/ε), count times
  pure_epsilon(ε)                     from_privacy_parameters(DifferentialPrivacyParameters(ε, 0))
  discrete_laplace(scale, Δ, count)   DiscreteLaplaceDpEvent(1/scale, Δ), count times
  discrete_gaussian(σ, Δ, count)      from_discrete_gaussian_mechanism(σ, Δ).self_compose(count)

Run from the repository root:  python3 scripts/reference/pld_reference.py   (a few minutes)
Requires: pip install dp-accounting==0.6.0
"""
import math
import os
import sys
from importlib import metadata

from dp_accounting.pld import privacy_loss_distribution as pld

import reference_table

# The auditor's checker holds the one map from Veil's mechanisms to dp_accounting's distributions.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from verify_audit import pld_distribution  # noqa: E402

OUT = os.path.join("Tests", "VeilPrivacyTests", "Resources", "pld_reference.json")
INTERVAL = 1e-4
TRUNCATION = 1e-15


def composed(mechanisms):
    total = pld.identity(value_discretization_interval=INTERVAL)
    for m in mechanisms:
        total = total.compose(pld_distribution(m, INTERVAL), tail_mass_truncation=TRUNCATION)
    return total


def epsilon_cases(mechanisms, deltas):
    total = composed(mechanisms)
    rows = []
    for delta in deltas:
        eps = total.get_epsilon_for_delta(delta)
        assert math.isfinite(eps), (mechanisms, delta)
        # Above ε ≈ 745, e^(−loss) underflows in dp_accounting's _get_epsilon_for_delta, which then
        # returns a grid loss above the true ε (q = 1, σ = 0.8, 1,000 steps: 949.83 against the exact
        # 948.885); Veil's conversion does not underflow, so such rows are not a reference.
        if eps < 700:
            rows.append({"mechanisms": mechanisms, "delta": delta, "epsilon": float(eps)})
    return rows


def subsampled(q, sigma, steps):
    return {"mechanism": "subsampled_gaussian", "sampling_rate": q, "noise_multiplier": sigma, "steps": steps}


def main():
    cases = []
    # DP-SGD: Poisson-subsampled Gaussian.
    for q in [0.001, 0.01, 0.1, 1.0]:
        for sigma in [0.8, 1.0, 2.0, 5.0]:
            for steps in [1, 10, 100, 1000]:
                cases += epsilon_cases([subsampled(q, sigma, steps)], [1e-5, 1e-6])
    # The example and the demo's training run.
    cases += epsilon_cases([subsampled(0.01, 1.0, 1000)], [1e-5])
    cases += epsilon_cases([subsampled(0.0108, 1.0, 465)], [1e-6])
    cases += epsilon_cases([subsampled(0.01, 1.1, 10000)], [1e-5])
    for sigma in [0.5, 1.0, 3.0, 10.0]:
        for count in [1, 10, 100]:
            cases += epsilon_cases([subsampled(1.0, sigma, count)], [1e-5])
    for eps in [0.01, 0.1, 0.5, 1.0, 2.0]:
        for count in [1, 10, 100]:
            cases += epsilon_cases([{"mechanism": "laplace", "epsilon": eps, "count": count}], [1e-6])
    for eps in [0.01, 0.1, 1.0]:
        cases += epsilon_cases([{"mechanism": "pure_epsilon", "epsilon": eps}], [1e-6])
    for scale in [1.0, 10.0, 40.0]:
        for sensitivity in [1, 3, 10]:
            for count in [1, 5]:
                m = {"mechanism": "discrete_laplace", "scale": scale, "sensitivity": sensitivity, "count": count}
                cases += epsilon_cases([m], [1e-6])
    for sigma in [1.0, 5.0, 20.0]:
        for sensitivity in [1, 3]:
            for count in [1, 5]:
                m = {"mechanism": "discrete_gaussian", "sigma": sigma, "sensitivity": sensitivity, "count": count}
                cases += epsilon_cases([m], [1e-6])
    # Heterogeneous compositions: a dataset's ledger.
    mixed = [
        subsampled(0.01, 1.1, 2000),
        subsampled(1.0, 4.0, 3),
        {"mechanism": "laplace", "epsilon": 0.2, "count": 5},
        {"mechanism": "pure_epsilon", "epsilon": 0.3},
        {"mechanism": "discrete_laplace", "scale": 10.0, "sensitivity": 4, "count": 2},
        {"mechanism": "discrete_gaussian", "sigma": 12.0, "sensitivity": 3, "count": 2},
    ]
    cases += epsilon_cases(mixed, [1e-5, 1e-6])
    queries = [{"mechanism": "pure_epsilon", "epsilon": 0.05}] * 20 + [{"mechanism": "discrete_gaussian", "sigma": 8.0, "sensitivity": 1, "count": 4}] * 5
    cases += epsilon_cases(queries, [1e-6])
    two_runs = [subsampled(0.0108, 1.0, 465), subsampled(0.0108, 1.2, 465)]
    cases += epsilon_cases(two_runs, [1e-6])

    inverse = []
    total = composed(mixed)
    for eps in [0.5, 1.0, 3.0, 5.0]:
        inverse.append({"mechanisms": mixed, "epsilon": eps, "delta": float(total.get_delta_for_epsilon(eps))})
    single = [subsampled(0.01, 1.0, 1000)]
    total = composed(single)
    for eps in [1.0, 1.5, 2.0, 3.0]:
        inverse.append({"mechanisms": single, "epsilon": eps, "delta": float(total.get_delta_for_epsilon(eps))})

    document = {
        "generator": "scripts/reference/pld_reference.py",
        "dp_accounting_version": metadata.version("dp-accounting"),
        "value_discretization_interval": INTERVAL,
        "tail_mass_truncation": TRUNCATION,
        "epsilon_at_delta": cases,
        "delta_at_epsilon": inverse,
    }
    reference_table.write(OUT, document)
    print(f"wrote {len(cases)} epsilon cases and {len(inverse)} delta cases to {OUT}")


if __name__ == "__main__":
    main()
