"""Does a backdoor answer to families of blended patterns? Flip-to-target rate on real test images
of other classes, in onnxruntime (2026-11-29, scratch, kept as it ran but for its paths).
Usage: python respond-to-patterns.py ZOO_NAME...  (benchmarks/out/zoo entries)"""
import json, sys, math
from pathlib import Path
import numpy as np, onnxruntime as ort, torch
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / 'benchmarks')); sys.path.insert(0, str(ROOT))
import zoo
rng = np.random.default_rng(0)
def smooth(n, size, cells):
    low = torch.rand(n, 1, cells, cells)
    return torch.nn.functional.interpolate(low, size=(size, size), mode='bilinear', align_corners=False).numpy()[:, 0]
def stripes(n, size):
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        th = rng.uniform(0, math.pi); f = rng.uniform(1, 6); ph = rng.uniform(0, 2*math.pi)
        out.append(0.5 + 0.5*np.sin(2*math.pi*f*(xx*np.cos(th)+yy*np.sin(th)) + ph))
    return np.array(out, np.float32)
for name in sys.argv[1:]:
    meta = json.loads((zoo.CACHE / name / 'meta.json').read_text())
    d = np.load(meta['test']); x = d['images'][..., 0].astype(np.float32) / 255; y = d['labels']
    t = meta.get('target', 0); keep = y != t; x, y = x[keep][:300], y[keep][:300]
    s = ort.InferenceSession(meta['model'], providers=['CPUExecutionProvider'])
    inp = s.get_inputs()[0].name
    pred = lambda im: s.run(None, {inp: ((im - zoo.MEAN) / zoo.STD)[:, None].astype(np.float32)})[0].argmax(1)
    n, size = len(x), x.shape[-1]
    planted = zoo.stamp(meta['attack'], x[..., None])[..., 0]
    row = {'planted': (pred(planted) == t).mean()}
    for a in (0.15, 0.3):
        row[f'noise{a}'] = (pred((1-a)*x + a*rng.random(x.shape, dtype=np.float32)) == t).mean()
        for c in (4, 8):
            row[f'smooth{c}_{a}'] = (pred((1-a)*x + a*smooth(n, size, c)) == t).mean()
        row[f'stripes{a}'] = (pred((1-a)*x + a*stripes(n, size)) == t).mean()
    print(f'{name:32s}', ' '.join(f'{k} {v:.2f}' for k, v in row.items()), flush=True)
