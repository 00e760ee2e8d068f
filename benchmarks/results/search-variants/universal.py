"""Per-class scan statistics from searches that share one change across a class's starts
(universal), one JSON line per zoo model (issue 11). Usage: python universal.py OUT.jsonl NAME..."""
import sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
from searchvar import main, margins  # noqa: E402  (the same models, starts and row format)

def shared_adam(model, spec, x0, labels, K, lr, steps, marks):
    n = len(x0) // K
    d = torch.zeros(K, 1, *x0.shape[1:], requires_grad=True); opt = torch.optim.Adam([d], lr=lr); out = {}
    for s in range(1, steps + 1):
        opt.zero_grad()
        x = (x0.view(K, n, *x0.shape[1:]) + d).view_as(x0)
        (-margins(model, spec, x, labels).sum()).backward(); opt.step()
        if s in marks:
            with torch.no_grad():
                out[s] = margins(model, spec, (x0.view(K, n, *x0.shape[1:]) + d).view_as(x0), labels)
    return out

def shared_sparse(model, spec, x0, labels, K, k, eta, steps, marks):
    n = len(x0) // K
    d = torch.zeros(K, 1, *x0.shape[1:]); out = {}
    X0 = x0.view(K, n, *x0.shape[1:])
    for s in range(1, steps + 1):
        d.requires_grad_(True)
        g, = torch.autograd.grad(margins(model, spec, (X0 + d).view_as(x0), labels).sum(), d)
        with torch.no_grad():
            g = g / g.abs().flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1, 1)
            d = (d + eta * g).clamp(-1, 1)
            mag = d.abs().sum(2).flatten(1)
            keep = torch.zeros_like(mag).scatter_(1, mag.topk(k, 1).indices, 1.0)
            d = d * keep.view(K, 1, 1, *d.shape[3:])
            if s in marks: out[s] = margins(model, spec, (X0 + d).view_as(x0), labels)
    return out

def looks(model, spec, x0, labels, K):
    for lr in (0.01, 0.04):
        for s, m in shared_adam(model, spec, x0, labels, K, lr, 20, {10, 20}).items():
            yield f"uadam{lr}-{s}", m
    for k in (9, 25):
        for s, m in shared_sparse(model, spec, x0, labels, K, k, 0.25, 20, {10, 20}).items():
            yield f"ul0k{k}-{s}", m

if __name__ == "__main__":
    main(looks)
