"""How much of a ResNet-20 student step is its eval-mode BatchNorm layers? (sweeps.md, "BatchNorm
folded into the convolutions"; run from the repository root, ../shared/models beside it:

    python benchmarks/results/sweeps/batch64/bnfold.py

Kept as it ran, normalisation rounded to two places: a timing; the fold is exact up to float rounding.)"""
import copy
import sys
import time
from pathlib import Path

import torch
from torch import nn
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
from auditor.loading import load_model
from auditor.memory_layout import to_channels_last_checked
torch.set_num_threads(2)
loaded = load_model(ROOT.parent / 'shared' / 'models' / 'cifar10-resnet20-torch-op9.onnx', mean=(0.49,0.48,0.45), std=(0.25,0.24,0.26))
net = loaded.net.eval()
spec = loaded.spec
to_channels_last_checked(net, spec, 'cpu')
print(type(net).__name__, sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()), 'BN')

# folded copy: each BN's affine moved into the conv before it, BN made identity (timing only)
folded = copy.deepcopy(net)
g = getattr(folded, 'graph', None)
fm = dict(folded.named_modules())
n_fold = 0
for node in list(g.nodes):
    if node.op == 'call_module' and isinstance(fm.get(node.target), nn.BatchNorm2d):
        prev = node.args[0]
        if prev.op == 'call_module' and isinstance(fm.get(prev.target), nn.Conv2d) and len(prev.users) == 1:
            conv, bn = fm[prev.target], fm[node.target]
            s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            with torch.no_grad():
                conv.weight.mul_(s.view(-1, 1, 1, 1))
                b = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                newb = (b - bn.running_mean) * s + bn.bias
                conv.bias = nn.Parameter(newb)
            node.replace_all_uses_with(prev)
            g.erase_node(node)
            n_fold += 1
folded.recompile()
print('folded', n_fold)
x = spec.normalise(torch.rand(128, *spec.shape)).contiguous(memory_format=torch.channels_last)
with torch.no_grad():
    print('max diff', (net(x) - folded(x)).abs().max().item())

def student_like(m):
    m.requires_grad_(True)
    s = m(x); s2 = m(x + 0.01)
    loss = (s - 1).abs().mean() + (s2 - s.detach()).abs().mean()
    loss.backward()
    for p in m.parameters(): p.grad = None

def teacher_fwd(m):
    with torch.no_grad():
        m(torch.cat([x] * 4))

for name, fn in [('student step', student_like), ('teacher fwd 512', teacher_fwd)]:
    for rep in range(3):
        ts = {}
        for label, m in [('bn', net), ('folded', folded)]:
            fn(m)
            t = time.perf_counter()
            for _ in range(3): fn(m)
            ts[label] = (time.perf_counter() - t) / 3
        print(name, {k: round(v, 3) for k, v in ts.items()}, 'ratio folded/bn', round(ts['folded'] / ts['bn'], 3))
