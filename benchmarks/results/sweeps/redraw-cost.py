"""(2026-11-29, scratch, kept as it ran but for its paths.) For every cached zoo model: real ACC / ASR of the teacher, and of the copy with outlier channels
re-drawn (as the loop's student starts), and with them zeroed (CLP)."""
import sys, json, glob, copy, numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo
from auditor.evaluation import load_images
from auditor.loading import load_model, Classifier
from auditor.channel_reset import reset_outlier_channels, lipschitz_outliers
from sweep import PREPROCESSING
torch.set_num_threads(1)
rows = []
for d in sorted(glob.glob(str(zoo.CACHE / "*" / "meta.json"))):
    info = json.load(open(d))
    loaded = load_model(info["model"], **PREPROCESSING)
    net = Classifier(loaded.net, loaded.spec, loaded.output_index).eval()
    shape = (info["size"], info["size"], 1)
    test, trig = load_images(info["test"], shape), load_images(info["triggered"], shape)
    def predict(m):
        def f(px):
            with torch.no_grad():
                return m(loaded.spec.normalise(torch.from_numpy(np.ascontiguousarray(px)).permute(0, 3, 1, 2))).argmax(1).numpy()
        return f
    tgt = info.get("target", zoo.TARGET)
    base = zoo.scores(info["attack"], predict(net), test.images, trig.images, test.labels, tgt)
    torch.manual_seed(0)
    s = copy.deepcopy(net); n = reset_outlier_channels(s, 3.0)
    if n == 0:
        continue
    red = zoo.scores(info["attack"], predict(s), test.images, trig.images, test.labels, tgt)
    z = copy.deepcopy(net)
    with torch.no_grad():
        for conv in z.modules():
            if isinstance(conv, torch.nn.Conv2d) and conv.out_channels > 1:
                out = lipschitz_outliers(conv, 3.0)
                if out.any() and conv.weight[~out].numel() >= 2:
                    conv.weight[out] = 0
                    if conv.bias is not None: conv.bias[out] = 0
    zer = zoo.scores(info["attack"], predict(z), test.images, trig.images, test.labels, tgt)
    row = dict(name=info["name"], n=n, acc=base["acc"], asr=base["asr"], acc_redraw=red["acc"], asr_redraw=red["asr"], acc_zero=zer["acc"], asr_zero=zer["asr"])
    rows.append(row)
    print(f'{info["name"]:36s} n={n:2d}  ACC {base["acc"]*100:5.1f} redraw {red["acc"]*100:5.1f} zero {zer["acc"]*100:5.1f}   ASR {base["asr"]*100:5.1f} redraw {red["asr"]*100:5.1f} zero {zer["asr"]*100:5.1f}', flush=True)
