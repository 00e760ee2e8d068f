"""Per-class scan statistics from a patch search (an L0 search whose support is one square),
one JSON line per zoo model (issue 11). Usage: python patch.py OUT.jsonl NAME..."""
import sys
from pathlib import Path
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent))
from searchvar import main, projected_search  # noqa: E402  (the same models, starts and row format)

def patch_search(model, spec, x0, labels, s, eta, steps, marks):
    """Ascent scaled by its largest entry; then all but the s × s window that moved most from
    the start is put back."""
    H, W = x0.shape[-2:]
    def keep_window(d):
        mass = F.avg_pool2d(d.abs().sum(1, keepdim=True), s, stride=1).flatten(1)
        best = mass.argmax(1)
        r, c = best // (W - s + 1), best % (W - s + 1)
        rows = torch.arange(H).view(1, H, 1); cols = torch.arange(W).view(1, 1, W)
        inside = ((rows >= r.view(-1, 1, 1)) & (rows < r.view(-1, 1, 1) + s) &
                  (cols >= c.view(-1, 1, 1)) & (cols < c.view(-1, 1, 1) + s))
        return d * inside.unsqueeze(1)
    return projected_search(model, spec, x0, labels, eta, steps, marks, keep_window)

def looks(model, spec, x0, labels, K):
    for s in (3, 4):
        for t, m in patch_search(model, spec, x0, labels, s, 0.25, 20, {10, 20}).items():
            yield f"patch{s}-{t}", m

if __name__ == "__main__":
    main(looks)
