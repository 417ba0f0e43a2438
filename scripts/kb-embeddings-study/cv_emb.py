# 2. frozen embeddings + LR (C tuned on fold 1 only); 3. TF-IDF ++ w*emb concatenation + LinearSVC/LR
# usage: python cv_emb.py cache/emb_minilm.npy tag
import sys, time, numpy as np, scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from common import load, folds
texts, y, cats = load(); T = np.array(texts, dtype=object); F = folds(y)
E = np.load(sys.argv[1]); tag = sys.argv[2]
E = E / np.linalg.norm(E, axis=1, keepdims=True)
def run(name, make_X, make_clf, fold_ids=range(5), save=True):
    accs = []; S = np.zeros((len(y), len(cats)), dtype=np.float32); t0 = time.time()
    for k in fold_ids:
        tr, te = F[k]; Xtr, Xte = make_X(tr, te)
        clf = make_clf().fit(Xtr, y[tr]); s = clf.decision_function(Xte); S[te] = s
        accs.append((s.argmax(1) == y[te]).mean())
    if save and len(accs) == 5: np.save(f"cache/scores_{tag}_{name}.npy", S)
    print(f"RESULT {tag} {name}: mean={np.mean(accs):.4f} folds={np.round(accs,4).tolist()} ({time.time()-t0:.0f}s)", flush=True)
    return np.mean(accs)
emb = lambda tr, te: (E[tr], E[te])
# --- 2. tune C on fold 1 only
best = max([(run(f"embLR_C{C}_fold1", emb, lambda C=C: LogisticRegression(C=C, max_iter=3000), [0], False), C) for C in [1, 10, 30, 100, 300]])
C = best[1]; print("chosen C", C)
run(f"embLR_C{C}", emb, lambda: LogisticRegression(C=C, max_iter=3000))
import os
QUICK = os.environ.get("QUICK") == "1"
if not QUICK: run("embSVC_C1", emb, lambda: LinearSVC(C=1.0))
# --- 3. concat
tf_cache = {}
def tfidf(k):
    if k not in tf_cache:
        tr, te = F[k]
        wv = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        cv = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        tf_cache[k] = (sp.hstack([wv.fit_transform(T[tr]), cv.fit_transform(T[tr])]).tocsr(),
                       sp.hstack([wv.transform(T[te]), cv.transform(T[te])]).tocsr())
    return tf_cache[k]
kof = {tuple(F[k][1][:5]): k for k in range(5)}
def concat(w):
    def f(tr, te):
        A, B = tfidf(kof[tuple(te[:5])])
        return sp.hstack([A, sp.csr_matrix(w * E[tr])]).tocsr(), sp.hstack([B, sp.csr_matrix(w * E[te])]).tocsr()
    return f
for w in ([2.0] if QUICK else [1.0, 2.0, 3.0]):
    run(f"concat_w{w}_SVC", concat(w), lambda: LinearSVC(C=1.0))
