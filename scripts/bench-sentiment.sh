#!/usr/bin/env bash
# Compare hark's Rust sentiment scorer with Python vaderSentiment 3.3.2 on the VADER ground-truth
# corpora and our customer-service set: F1, compound parity and single-core throughput.
#   scripts/bench-sentiment.sh            (VADER_DATA=... to point at the corpora elsewhere)
# Needs python3 and the package registry once (venv in /tmp); the corpora live in ../shared/data/vader.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/vader-venv-3.3.2}
if ! "$VENV/bin/python" -c 'import vaderSentiment' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q vaderSentiment==3.3.2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p feedback --example sentiment_lines
export SENTIMENT_LINES="$CARGO_TARGET_DIR/release/examples/sentiment_lines"
# Python's own sum() became compensated in 3.12; vaderSentiment 3.3.2's reference figures use
# plain left-to-right float sums, which the Rust port reproduces, so say which Python ran.
"$VENV/bin/python" -c 'import sys; print("python", sys.version.split()[0])'
exec "$VENV/bin/python" scripts/bench-sentiment.py "$@"
