# 1. TF-IDF word1-2 + char_wb2-5, sublinear, LR(C=20) and LinearSVC; also saves per-fold decision scores for fusion
import sys, time, numpy as np, scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from common import load, folds
texts, y, cats = load()
print(len(texts), len(cats))
T = np.array(texts, dtype=object)
res = {}
for name in sys.argv[1:] or ["svc", "lr"]:
    accs = []; scores = np.zeros((len(y), len(cats)), dtype=np.float32)
    t0 = time.time()
    for k, (tr, te) in enumerate(folds(y)):
        wv = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        cv = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)
        Xtr = sp.hstack([wv.fit_transform(T[tr]), cv.fit_transform(T[tr])]).tocsr()
        Xte = sp.hstack([wv.transform(T[te]), cv.transform(T[te])]).tocsr()
        clf = LinearSVC(C=1.0) if name == "svc" else LogisticRegression(C=20, max_iter=3000)
        clf.fit(Xtr, y[tr])
        s = clf.decision_function(Xte); scores[te] = s
        accs.append((s.argmax(1) == y[te]).mean())
        print(name, k, accs[-1], flush=True)
    np.save(f"cache/scores_tfidf_{name}.npy", scores)
    print(f"RESULT tfidf+{name}: mean={np.mean(accs):.4f} folds={np.round(accs,4).tolist()} time={time.time()-t0:.0f}s", flush=True)
