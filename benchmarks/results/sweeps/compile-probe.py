"""(2026-11-29, scratch, kept as it ran.) torch.compile of the corpus ResNet-20 once its
Shape-Gather-Unsqueeze-Concat-Reshape flatten is replaced by hand (node Reshape_76; the others
then dead): a student-like step (two forwards, one backward, batch 128), eager against compiled.
    [CL=1] python compile-probe.py ../shared/models/cifar10-resnet20-torch-op9.onnx THREADS"""
import time, sys, torch, copy
sys.path.insert(0, '.')
from auditor.loading import load_model, Classifier
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
loaded = load_model(sys.argv[1], mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)) if "cifar" in sys.argv[1] else load_model(sys.argv[1], mean=(0.1307,), std=(0.3081,))
class Flat(torch.nn.Module):
    def forward(self, x, shape=None): return x.flatten(1)
if "cifar" in sys.argv[1]:
    setattr(loaded.net, "Reshape_76", Flat())
    g = loaded.net.graph
    for n in g.nodes:
        if n.target == "Reshape_76": n.args = (n.args[0],)
    g.eliminate_dead_code(); loaded.net.recompile()
net = Classifier(loaded.net, loaded.spec, loaded.output_index).eval()
x = torch.randn(128, *loaded.spec.shape)
import os
if os.environ.get("CL"):
    net = net.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
def step(m):
    out = m(x); out2 = m(x + 0.1); (out - out2).abs().mean().backward()
def timeit(m, n=3):
    step(m); t = time.perf_counter()
    for _ in range(n): step(m)
    return (time.perf_counter() - t) / n
e = timeit(net)
print("eager", round(e, 3))
try:
    t0 = time.perf_counter(); c = torch.compile(net); step(c); print("compile s", round(time.perf_counter() - t0, 1))
    print("compiled", round(timeit(c), 3), "eager again", round(timeit(net), 3))
except Exception as ex:
    print("FAIL", type(ex).__name__, str(ex)[:300])
