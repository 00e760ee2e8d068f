"""Per-class scan statistics under search variants, one JSON line per zoo model (issue 11).

The script that chose the sparse search, kept as it ran (2026-11-29): its own copies of the
dense (Adam) and sparse (L0) searches, later moved into auditor/detection.py. Usage:
    python searchvar.py OUT.jsonl MODEL_NAME...   (names of benchmarks/out/zoo entries)
score.py reads its output. (Its row loop, `rows_of`, was factored out on 2026-11-29 for
patch.py and universal.py: the same steps in the same order.)"""
import json, sys, time
from pathlib import Path
import torch
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo
from auditor.detection import class_margin
from auditor.loading import Classifier, load_model
torch.set_num_threads(1)

def margins(model, spec, x, labels):
    return class_margin(model(spec.normalise(x.clamp(0, 1))), labels)

def adam_search(model, spec, x0, labels, lr, steps, marks):
    x = x0.clone().requires_grad_(True); opt = torch.optim.Adam([x], lr=lr); out = {}
    for s in range(1, steps + 1):
        opt.zero_grad(); (-margins(model, spec, x, labels).sum()).backward(); opt.step()
        if s in marks:
            with torch.no_grad(): out[s] = margins(model, spec, x, labels)
    return out

def sparse_search(model, spec, x0, labels, k, eta, steps, marks):
    """L0-PGD: step along the gradient scaled by its largest entry, keep the k locations with the
    largest change, stay in the box."""
    def keep_largest(d):
        mag = d.abs().sum(1).flatten(1)
        keep = torch.zeros_like(mag).scatter_(1, mag.topk(k, 1).indices, 1.0)
        return d * keep.view(len(d), 1, *d.shape[2:])
    return projected_search(model, spec, x0, labels, eta, steps, marks, keep_largest)

def projected_search(model, spec, x0, labels, eta, steps, marks, project):
    """Steps along the gradient scaled by its largest entry, in the box, each change from x0 then
    cut down by project(d); the margins at the steps in marks. (patch.py passes its own project.)"""
    d = torch.zeros_like(x0); out = {}
    for s in range(1, steps + 1):
        d.requires_grad_(True)
        g, = torch.autograd.grad(margins(model, spec, x0 + d, labels).sum(), d)
        with torch.no_grad():
            g = g / g.abs().flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
            d = project((x0 + d + eta * g).clamp(0, 1) - x0)
            if s in marks: out[s] = margins(model, spec, x0 + d, labels)
    return out

def rows_of(name, looks):
    """One model's row: for dark, then noise starts (one draw each, in that order), looks(model,
    spec, x0, labels, K) yields (look name, margins) and each look's per-class mean is kept.
    patch.py and universal.py use it with their own searches."""
    meta = json.loads((zoo.CACHE / name / "meta.json").read_text())
    loaded = load_model(meta["model"], mean=(0.1307,), std=(0.3081,))
    spec = loaded.spec; K = spec.num_classes; n = 32
    model = Classifier(loaded.net, spec, loaded.output_index).eval().requires_grad_(False)
    labels = torch.arange(K).repeat_interleave(n)
    g = torch.Generator().manual_seed(0)
    row = {"name": name, "backdoored": meta["attack"] is not None, "target": meta.get("target", 0), "attack": meta["attack"]}
    t0 = time.time()
    for fam, scale in (("dark", 0.2), ("noise", 1.0)):
        x0 = scale * torch.rand(K * n, *spec.shape, generator=g)
        for look, m in looks(model, spec, x0, labels, K):
            row[f"{fam}-{look}"] = m.view(K, n).mean(1).tolist()
    row["seconds"] = time.time() - t0
    return row

def looks(model, spec, x0, labels, K):
    for lr in (0.01, 0.04):
        for s, m in adam_search(model, spec, x0, labels, lr, 20, {10, 20}).items():
            yield f"adam{lr}-{s}", m
    for k in (9, 25):
        for s, m in sparse_search(model, spec, x0, labels, k, 0.25, 20, {10, 20}).items():
            yield f"l0k{k}-{s}", m

def main(looks):
    out = open(sys.argv[1], "a")
    for name in sys.argv[2:]:
        r = rows_of(name, looks); out.write(json.dumps(r) + "\n"); out.flush()
        print(name, f"{r['seconds']:.0f}s", flush=True)

if __name__ == "__main__":
    main(looks)
