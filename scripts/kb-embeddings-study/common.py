import csv, numpy as np
from sklearn.model_selection import StratifiedKFold
import os
# The data is read in place, beside the checkout (never copied into the repository).
DATA = os.environ.get("BANKING77", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "banking77", "train.csv"))
def load():
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    labels = [r["category"] for r in rows]
    cats = sorted(set(labels))
    y = np.array([cats.index(l) for l in labels])
    return texts, y, cats
def folds(y):
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    return list(skf.split(np.zeros(len(y)), y))
