#!/usr/bin/env python3
"""The lifetimes side of scripts/bench-value.sh: what `hark value fit --summary` does,
done the way a lifetimes user would (read the CSV, fit BG/NBD, fit Gamma-Gamma on
repeat buyers), printing the same JSON shape."""
import json
import sys

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

s = pd.read_csv(sys.argv[1])
x, tx, T = s["frequency"], s["recency"], s["T"]
bgf = BetaGeoFitter().fit(x, tx, T)
r, alpha, a, b = (float(bgf.params_[k]) for k in ["r", "alpha", "a", "b"])
# lifetimes fits in rescaled time; evaluate its own likelihood in weeks for the total LL.
ll = -float(bgf._negative_log_likelihood(np.log([r, alpha, a, b]), x.values, tx.values, T.values, np.ones(len(s)), 0.0)) * len(s)
out = {"bgnbd": {"r": r, "alpha": alpha, "a": a, "b": b, "log_likelihood": ll}}
if "monetary_value" in s:
    rep = (x > 0) & (s["monetary_value"] > 0)
    ggf = GammaGammaFitter().fit(x[rep], s["monetary_value"][rep])
    out["gamma_gamma"] = {k: float(ggf.params_[k]) for k in ["p", "q", "v"]}
print(json.dumps(out))
