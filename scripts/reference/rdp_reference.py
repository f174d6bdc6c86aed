#!/usr/bin/env python3
"""Writes Tests/VeilPrivacyTests/Resources/rdp_reference.json: known answers for VeilPrivacy's
RDP accountant, computed with Google's dp_accounting (RdpAccountant, default orders).

Each case lists mechanisms in Veil's JSON form (docs/privacy.md), a delta, and the epsilon and
optimal order dp_accounting reports; `delta_at_epsilon` cases give the inverse conversion.

Run from the repository root:  python3 scripts/reference/rdp_reference.py
Requires: pip install dp-accounting==0.6.0
"""
import math
import os

import dp_accounting
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant as rdp

import reference_table

OUT = os.path.join("Tests", "VeilPrivacyTests", "Resources", "rdp_reference.json")


def event(m):
    kind = m["mechanism"]
    if kind == "gaussian":
        return dp_event.SelfComposedDpEvent(dp_event.GaussianDpEvent(m["noise_multiplier"]), m["count"])
    if kind == "subsampled_gaussian":
        inner = dp_event.PoissonSampledDpEvent(m["sampling_rate"], dp_event.GaussianDpEvent(m["noise_multiplier"]))
        return dp_event.SelfComposedDpEvent(inner, m["steps"])
    if kind == "laplace":
        # dp_accounting parametrises Laplace by noise multiplier = scale / sensitivity = 1 / epsilon.
        return dp_event.SelfComposedDpEvent(dp_event.LaplaceDpEvent(1 / m["epsilon"]), m["count"])
    raise ValueError(kind)


def accountant(mechanisms):
    acc = rdp.RdpAccountant()  # default orders
    for m in mechanisms:
        acc.compose(event(m))
    return acc


def epsilon_case(mechanisms, delta):
    eps, order = accountant(mechanisms).get_epsilon_and_optimal_order(delta)
    assert math.isfinite(eps), (mechanisms, delta)
    return {"mechanisms": mechanisms, "delta": delta, "epsilon": float(eps), "order": float(order)}


def main():
    cases = []
    for q in [0.001, 0.01, 0.1, 0.5, 1.0]:
        for sigma in [0.5, 0.8, 1.0, 2.0, 5.0]:
            for steps in [1, 10, 100, 1000, 10000]:
                for delta in [1e-5, 1e-6]:
                    m = {"mechanism": "subsampled_gaussian", "sampling_rate": q, "noise_multiplier": sigma, "steps": steps}
                    cases.append(epsilon_case([m], delta))
    for sigma in [0.5, 1.0, 3.0, 10.0]:
        for count in [1, 10, 100]:
            cases.append(epsilon_case([{"mechanism": "gaussian", "noise_multiplier": sigma, "count": count}], 1e-5))
    for eps in [0.01, 0.1, 0.5, 1.0, 2.0]:
        for count in [1, 10, 100]:
            cases.append(epsilon_case([{"mechanism": "laplace", "epsilon": eps, "count": count}], 1e-6))
    mixed = [
        {"mechanism": "subsampled_gaussian", "sampling_rate": 0.01, "noise_multiplier": 1.1, "steps": 5000},
        {"mechanism": "gaussian", "noise_multiplier": 4.0, "count": 3},
        {"mechanism": "laplace", "epsilon": 0.2, "count": 5},
    ]
    cases.append(epsilon_case(mixed, 1e-5))

    inverse = []
    for eps in [0.5, 1.0, 3.0, 8.0]:
        delta, order = accountant(mixed).get_delta_and_optimal_order(eps)
        inverse.append({"mechanisms": mixed, "epsilon": eps, "delta": float(delta), "order": float(order)})

    document = {
        "generator": "scripts/reference/rdp_reference.py",
        "dp_accounting_version": "0.6.0",
        "orders": [float(a) for a in rdp.DEFAULT_RDP_ORDERS],
        "epsilon_at_delta": cases,
        "delta_at_epsilon": inverse,
    }
    reference_table.write(OUT, document)
    print(f"wrote {len(cases)} epsilon cases and {len(inverse)} delta cases to {OUT}")


if __name__ == "__main__":
    main()
