#!/usr/bin/env python3
"""Print the `lifetimes` library's CDNOW numbers that feedback/tests/value_parity.rs pins.

Run with a venv that has lifetimes 0.11.3 (see scripts/bench-value.sh for the pins):
    python scripts/value-lifetimes-parity.py ../shared/data/cdnow
"""
import json
import sys

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/cdnow"
s = pd.read_csv(f"{data}/cdnow_customers_summary_with_transactions.csv")
x, tx, T, m = s["x"], s["t_x"], s["T"], s["zbar"]

bgf = BetaGeoFitter().fit(x, tx, T)
r, alpha, a, b = (float(bgf.params_[k]) for k in ["r", "alpha", "a", "b"])
# lifetimes fits in rescaled time (max T = 10), so its stored likelihood is off by a
# constant; evaluate its own likelihood function in weeks at the fitted parameters instead.
ones = np.ones(len(s))
ll = -float(bgf._negative_log_likelihood(np.log([r, alpha, a, b]), x.values, tx.values, T.values, ones, 0.0)) * len(s)

rep = x > 0
ggf = GammaGammaFitter().fit(x[rep], m[rep])
p, q, v = (float(ggf.params_[k]) for k in ["p", "q", "v"])
gg_ll = -float(ggf._negative_log_likelihood_) * int(rep.sum())

first = s.head(10)
out = {
    "bgnbd": {"r": r, "alpha": alpha, "a": a, "b": b, "log_likelihood": ll},
    "gamma_gamma": {"p": p, "q": q, "v": v, "log_likelihood": gg_ll},
    "expected_x_t": {str(t): float(bgf.expected_number_of_purchases_up_to_time(t)) for t in [0.1429, 1, 3, 31.8571, 32, 78]},
    "conditional_39_x2": float(bgf.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)),
    "p_alive_first10": [float(v) for v in bgf.conditional_probability_alive(first["x"], first["t_x"], first["T"])],
    "conditional_39_first10": [float(v) for v in bgf.conditional_expected_number_of_purchases_up_to_time(39, first["x"], first["t_x"], first["T"])],
    "sum_conditional_39": float(bgf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T).sum()),
    "spend_first10": [float(v) for v in ggf.conditional_expected_average_profit(first["x"], first["zbar"])],
    "clv_first10_12m_1pct_W": [float(v) for v in ggf.customer_lifetime_value(bgf, first["x"], first["t_x"], first["T"], first["zbar"], time=12, discount_rate=0.01, freq="W")],
}
print(json.dumps(out, indent=1))
