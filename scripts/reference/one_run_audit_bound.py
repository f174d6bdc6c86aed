#!/usr/bin/env python3
"""The one-run privacy audit's bound, computed independently of Veil with SciPy: the reference code of
Steinke, Nasr & Jagielski, "Privacy auditing with one (1) training run" (NeurIPS 2023, arXiv
2305.08846), `p_value_DP_audit` and `get_eps_audit`, as the paper gives them (the inner loop of the first vectorised with NumPy).

Usage: python3 scripts/reference/one_run_audit_bound.py '[[m, r, v, delta], ...]'
Prints one JSON array: for each case, {"m", "r", "v", "delta", "epsilon_lower_bound",
"p_value_at": {"0": p(ε=0), "1": p(ε=1), "2": p(ε=2), "4": p(ε=4)}} at 95 % confidence.
`OneRunAuditBoundTests` runs it and compares VeilPrivacy's `OneRunAuditBound` with its answers.
Requires SciPy (installed with dp-accounting by scripts/install-deps.sh).
"""
import json
import math
import sys

import numpy
import scipy.stats


def p_value_dp_audit(m, r, v, eps, delta):
    """P[>= v correct guesses out of r] if the algorithm is (eps, delta)-DP (m canaries)."""
    assert 0 <= v <= r <= m
    assert eps >= 0
    assert 0 <= delta <= 1
    q = 1 / (1 + math.exp(-eps))  # accuracy of eps-DP randomised response
    beta = scipy.stats.binom.sf(v - 1, r, q)  # P[Binomial(r, q) >= v]
    # The paper's loop — total += pmf(v - i); alpha = max(alpha, total / i) for i = 1 … v — with the
    # running sums (same order) in one NumPy call.
    alpha = 0
    if v >= 1:
        steps = numpy.arange(1, v + 1)
        totals = numpy.cumsum(scipy.stats.binom.pmf(v - steps, r, q))  # P[v > Binomial(r, q) >= v - i]
        alpha = max(0.0, float(numpy.max(totals / steps)))
    p = beta + alpha * delta * 2 * m
    return min(p, 1)


def get_eps_audit(m, r, v, delta, p):
    """The largest eps the audit rejects at level p (p = 0.05 for 95 % confidence)."""
    eps_min = 0  # p_value(eps_min) < p
    eps_max = 1  # p_value(eps_max) >= p
    while p_value_dp_audit(m, r, v, eps_max, delta) < p:
        eps_max = eps_max + 1
    for _ in range(30):
        eps = (eps_min + eps_max) / 2
        if p_value_dp_audit(m, r, v, eps, delta) < p:
            eps_min = eps
        else:
            eps_max = eps
    return eps_min


def main():
    cases = json.loads(sys.argv[1])
    answers = []
    for m, r, v, delta in cases:
        answers.append({
            "m": m, "r": r, "v": v, "delta": delta,
            "epsilon_lower_bound": get_eps_audit(m, r, v, delta, 0.05),
            "p_value_at": {str(e): p_value_dp_audit(m, r, v, float(e), delta) for e in (0, 1, 2, 4)},
        })
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
