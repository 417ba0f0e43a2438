#!/usr/bin/env bash
# Benchmark `hark value fit --summary` against the `lifetimes` library on the same
# synthetic data, in the same run: N customers (default 1,000,000) drawn from the
# CDNOW parameters. Prints wall time and max RSS of both (/usr/bin/time -v), both sets
# of parameters, their relative differences and the speed-up.
#
#   scripts/bench-value.sh            # N=1000000
#   N=100000 scripts/bench-value.sh
#
# Until the `hark` CLI is wired, the hark side is `feedback/examples/value_fit.rs`,
# which calls the same `feedback::value::cli::fit_summary` the CLI will call.
# The lifetimes side runs in a venv (VENV, default /tmp/ltenv) with pins that work on
# Python 3.11: lifetimes 0.11.3 needs numpy < 2, pandas < 2.2 and scipy < 1.13.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
DATA=${DATA:-/tmp/value_synth_${N}.csv}
VENV=${VENV:-/tmp/ltenv}
OUT=${OUT:-/tmp/bench-value}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT"

cargo build --quiet --release -p feedback --example value_synth --example value_fit
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import lifetimes" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "numpy==1.26.4" "pandas==2.1.4" "scipy==1.12.0" "autograd==1.9.1" "dill==0.4.1" "lifetimes==0.11.3"
fi

"$TARGET/release/examples/value_synth" "$N" "$DATA"

/usr/bin/time -v "$TARGET/release/examples/value_fit" --summary "$DATA" >"$OUT/hark.json" 2>"$OUT/hark.time"
/usr/bin/time -v "$VENV/bin/python" scripts/bench-value-lifetimes.py "$DATA" >"$OUT/lifetimes.json" 2>"$OUT/lifetimes.time"

python3 - "$OUT" "$N" <<'PY'
import json, re, sys
out, n = sys.argv[1], int(sys.argv[2])

def usage(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return seconds, rss / 1024

hark, lt = json.load(open(f"{out}/hark.json")), json.load(open(f"{out}/lifetimes.json"))
(ht, hm), (lt_t, lm) = usage(f"{out}/hark.time"), usage(f"{out}/lifetimes.time")
print(f"customers: {n:,}")
print(f"{'':14}{'hark':>20}{'lifetimes':>20}{'rel diff':>12}")
worst = 0.0
for model, keys in [("bgnbd", ["r", "alpha", "a", "b", "log_likelihood"]), ("gamma_gamma", ["p", "q", "v"])]:
    for k in keys:
        a, b = hark[model][k], lt[model][k]
        rel = abs(a - b) / abs(b)
        if k != "log_likelihood":
            worst = max(worst, rel)
        print(f"{model + '.' + k:14}{a:>20.8f}{b:>20.8f}{rel:>12.2e}")
print(f"{'wall time s':14}{ht:>20.2f}{lt_t:>20.2f}")
print(f"{'max RSS MiB':14}{hm:>20.0f}{lm:>20.0f}")
print(f"speed-up {lt_t / ht:.1f}x (target >= 20x); worst parameter difference {worst:.1e} (target < 1e-3); hark RSS {hm:.0f} MiB (target < 1024)")
ok = lt_t / ht >= 20 and worst < 1e-3 and hm < 1024
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
