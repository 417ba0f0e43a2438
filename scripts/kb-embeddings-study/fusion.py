# 4. score-level fusion of out-of-fold scores (+ kNN-on-embedding class scores); fusion weights tuned on fold 1 only
import sys, itertools, numpy as np
from common import load, folds
texts, y, cats = load(); F = folds(y); n, K = len(y), len(cats)
def knn_scores(E, topk=3):
    E = E / np.linalg.norm(E, axis=1, keepdims=True); S = np.zeros((n, K), np.float32)
    for tr, te in F:
        sim = E[te] @ E[tr].T; ytr = y[tr]
        for c in range(K):
            sc = np.sort(sim[:, ytr == c], axis=1)[:, -topk:]
            S[te, c] = sc.mean(1)
    return S
def z(S): return (S - S.mean(1, keepdims=True)) / S.std(1, keepdims=True)
def acc(S, idx=None):
    p = S.argmax(1); return (p == y).mean() if idx is None else (p[idx] == y[idx]).mean()
def foldaccs(S): return [acc(S, te) for _, te in F]
def fuse(names, mats, grid=np.arange(0, 3.01, 0.25)):
    mats = [z(m) for m in mats]; te0 = F[0][1]; best = None
    for ws in itertools.product(grid, repeat=len(mats) - 1):
        S = mats[0] + sum(w * m for w, m in zip(ws, mats[1:]))
        a = acc(S, te0)
        if best is None or a > best[0]: best = (a, ws)
    ws = best[1]; S = mats[0] + sum(w * m for w, m in zip(ws, mats[1:])); fa = foldaccs(S)
    print(f"RESULT fuse {'+'.join(names)} w={ws}: mean={np.mean(fa):.4f} (folds2-5 mean={np.mean(fa[1:]):.4f}) folds={np.round(fa,4).tolist()}", flush=True)
    return S
if __name__ == "__main__":
    tags = sys.argv[1:] or ["minilm"]
    L = {"tfidf_svc": np.load("cache/scores_tfidf_svc.npy")}
    for t in tags:
        E = np.load(f"cache/emb_{t}.npy")
        for k in [1, 3, 5]:
            S = knn_scores(E, k); print(f"RESULT {t} kNN top{k}-mean per class: mean={np.mean(foldaccs(S)):.4f}")
            if k == 3: L[f"{t}_knn3"] = S
        for nm in ["embLR_C30", "embSVC_C1", "concat_w2.0_SVC"]:
            try: L[f"{t}_{nm}"] = np.load(f"cache/scores_{t}_{nm}.npy")
            except FileNotFoundError: pass
    for k, v in L.items(): print(f"single {k}: {np.mean(foldaccs(v)):.4f}")
    t = tags[0]
    fuse(["tfidf_svc", f"{t}_embLR_C30"], [L["tfidf_svc"], L[f"{t}_embLR_C30"]])
    fuse(["tfidf_svc", f"{t}_knn3"], [L["tfidf_svc"], L[f"{t}_knn3"]])
    fuse(["tfidf_svc", f"{t}_embLR_C30", f"{t}_knn3"], [L["tfidf_svc"], L[f"{t}_embLR_C30"], L[f"{t}_knn3"]])
    fuse([f"{t}_concat_w2.0_SVC", f"{t}_knn3"], [L[f"{t}_concat_w2.0_SVC"], L[f"{t}_knn3"]])
    if len(tags) > 1:
        ks = ["tfidf_svc"] + [f"{u}_embLR_C30" for u in tags]
        fuse(ks, [L[k] for k in ks], grid=np.arange(0, 2.01, 0.25))
