"""Each class's mean margin at the scan's starting images, before any step (step 0), one JSON
line per zoo model, keyed dark-start and noise-start; merges by name with searchvar.py's rows.
Usage: python start_margins.py OUT.jsonl NAME..."""
import sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
from searchvar import main, margins  # noqa: E402  (the same models, starts and row format)

def looks(model, spec, x0, labels, K):
    with torch.no_grad():
        yield "start", margins(model, spec, x0, labels)

if __name__ == "__main__":
    main(looks)
