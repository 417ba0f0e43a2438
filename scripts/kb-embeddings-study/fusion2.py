# Multi-source score fusion: weights by coordinate ascent on fold 1 only; reports all-fold mean and folds 2-5 mean
import glob, sys, numpy as np
from fusion import knn_scores, z, acc, foldaccs, F, y
def load_src(spec):
    if spec.endswith("_knn3"):
        return knn_scores(np.load(f"cache/emb_{spec[:-5]}.npy"), 3)
    if spec == "tfidf_svc": return np.load("cache/scores_tfidf_svc.npy")
    t, kind = spec.split(":")
    f = sorted(glob.glob(f"cache/scores_{t}_{kind}*.npy")); assert f, spec
    return np.load(f[0])
def coord_fuse(names, mats, grid=np.arange(0, 3.01, 0.25), passes=3):
    M = [z(m) for m in mats]; te0 = F[0][1]; w = np.ones(len(M)); w[1:] = 1.0
    for _ in range(passes):
        for i in range(1, len(M)):
            best = None
            for g in grid:
                w2 = w.copy(); w2[i] = g; S = sum(a * m for a, m in zip(w2, M)); a = acc(S, te0)
                if best is None or a > best[0] + 1e-9: best = (a, g)
            w[i] = best[1]
    S = sum(a * m for a, m in zip(w, M)); fa = foldaccs(S)
    print(f"RESULT fuse {' + '.join(names)} w={w.tolist()}: mean={np.mean(fa):.4f} (folds2-5 mean={np.mean(fa[1:]):.4f}) folds={np.round(fa,4).tolist()}", flush=True)
    return S, w
if __name__ == "__main__":
    for combo in sys.argv[1:]:
        names = combo.split(","); coord_fuse(names, [load_src(n) for n in names])
