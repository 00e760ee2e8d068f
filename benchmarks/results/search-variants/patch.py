"""Per-class scan statistics from a patch search (an L0 search whose support is one square),
one JSON line per zoo model (issue 11). Usage: python patch.py OUT.jsonl NAME..."""
import sys
from pathlib import Path
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent))
from searchvar import main, margins  # noqa: E402  (the same models, starts and row format)

def patch_search(model, spec, x0, labels, s, eta, steps, marks):
    """Ascent scaled by its largest entry; then all but the s × s window that moved most from
    the start is put back."""
    d = torch.zeros_like(x0); out = {}
    H, W = x0.shape[-2:]
    for t in range(1, steps + 1):
        d.requires_grad_(True)
        g, = torch.autograd.grad(margins(model, spec, x0 + d, labels).sum(), d)
        with torch.no_grad():
            g = g / g.abs().flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
            d = ((x0 + d + eta * g).clamp(0, 1) - x0)
            mass = F.avg_pool2d(d.abs().sum(1, keepdim=True), s, stride=1).flatten(1)
            best = mass.argmax(1)
            r, c = best // (W - s + 1), best % (W - s + 1)
            rows = torch.arange(H).view(1, H, 1); cols = torch.arange(W).view(1, 1, W)
            inside = ((rows >= r.view(-1, 1, 1)) & (rows < r.view(-1, 1, 1) + s) &
                      (cols >= c.view(-1, 1, 1)) & (cols < c.view(-1, 1, 1) + s))
            d = d * inside.unsqueeze(1)
            if t in marks: out[t] = margins(model, spec, x0 + d, labels)
    return out

def looks(model, spec, x0, labels, K):
    for s in (3, 4):
        for t, m in patch_search(model, spec, x0, labels, s, 0.25, 20, {10, 20}).items():
            yield f"patch{s}-{t}", m

if __name__ == "__main__":
    main(looks)
