"""(2026-12-06, diagnostic.) Fine-pruning without data: are the channels a backdoor lives in the
ones the generator's images leave dormant?

Fine-pruning (Liu et al., RAID 2018) prunes the last convolution's channels in increasing order
of their mean activation on clean data: backdoor channels are dormant on clean inputs. The tool
has no clean data, only the generator's images, on which the planted SIG trigger hardly fires
(sweeps.md, "The search told the answer"). For each named zoo model: every convolution's output
channels ranked by mean ReLU activation over the generator's images at the warm-up's end (256,
default recipe, seed 0), and, as the oracle, over 500 real test images. Then the teacher with the
k most dormant channels of its last convolution zeroed, no distillation, scored on the real test
images (ACC / ASR in %), and the same over every convolution (the k most dormant of all, each
channel's mean divided by its layer's mean so layers compare).

    python benchmarks/results/sweeps/dormant/dormant-channels.py MODEL_NAME...
"""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
spec_ = importlib.util.spec_from_file_location("trigger_channels", HERE.parent / "trigger-channels.py")
tc = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(tc)           # its helpers: convs, zeroed, warmup_players, zoo, ...
sys.path.insert(0, str(HERE.parent))
import zoo_teacher  # noqa: E402
KS = (2, 4, 8, 16)


@torch.no_grad()
def activations(net, x):
    """Per conv: each output channel's mean ReLU activation over the images and positions."""
    out = []
    hooks = [c.register_forward_hook(lambda m, i, o: out.append(o.float().clamp_min(0).mean((0, 2, 3))))
             for c in tc.convs(net)]
    net(x)
    for h in hooks:
        h.remove()
    return out


def last_conv_order(acts, sizes):
    """Indices (over all convs' channels concatenated) of the last conv's channels, most dormant first."""
    start = int(np.sum(sizes[:-1]))
    return torch.argsort(acts[-1]) + start


def all_conv_order(acts):
    relative = torch.cat([a / a.mean().clamp_min(1e-9) for a in acts])
    return torch.argsort(relative)


def main():
    for name in sys.argv[1:]:
        info, spec, net = zoo_teacher.load(name)
        shape = (info["size"], info["size"], 1)
        test, trig = tc.load_images(info["test"], shape), tc.load_images(info["triggered"], shape)
        target = info.get("target", tc.zoo.TARGET)
        to_x = lambda px: spec.normalise(torch.from_numpy(np.ascontiguousarray(px)).permute(0, 3, 1, 2))  # noqa: E731

        def score(m):
            def predict(px):
                with torch.no_grad():
                    return m(to_x(px)).argmax(1).numpy()
            r = tc.zoo.scores(info["attack"], predict, test.images, trig.images, test.labels, target)
            return round(r["acc"] * 100, 1), round((r["asr"] or 0) * 100, 1)

        sizes = [c.out_channels for c in tc.convs(net)]
        p, _ = tc.warmup_players(net, spec)
        with torch.no_grad():
            synthetic = spec.normalise(p.generator.sample(256))
        sources = {"synthetic": activations(net, synthetic), "real": activations(net, to_x(test.images[:500]))}
        row = {"name": name, "teacher": score(net), "last_conv_channels": sizes[-1]}
        for source, acts in sources.items():
            for scope, order in (("last", last_conv_order(acts, sizes)), ("all", all_conv_order(acts))):
                row[f"{source}-{scope}"] = {k: score(tc.zeroed(net, order, k)) for k in KS}
        last_syn = set(last_conv_order(sources["synthetic"], sizes)[:8].tolist())
        last_real = set(last_conv_order(sources["real"], sizes)[:8].tolist())
        row["last_overlap8"] = len(last_syn & last_real)
        row["last_dead_synthetic"] = int((sources["synthetic"][-1] == 0).sum())
        row["last_dead_real"] = int((sources["real"][-1] == 0).sum())
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
