"""(2026-11-29, scratch, kept as it ran.) Can the channels a backdoor lives in be found from the
trigger search's images instead of the weights (CLP)?

For each named zoo model: every convolution's output channels, scored by how far a trigger raises
their spatial-mean response, in deviations of their response on untriggered images:
- oracle: the planted trigger on real test images of other classes (the zoo's triggered.npz);
- search: the warm-up's anchor triggers (the loop as `auditor clean` runs it, 50 warm-up
  iterations, default recipe, seed 0) on the generator's images.
Then the teacher with the top-k channels of each ranking zeroed (no distillation), scored on the
real test images: how much of the backdoor those channels carry, and what they cost.

    python trigger-channels.py MODEL_NAME...   (names of benchmarks/out/zoo entries)
"""
import sys, json, copy, numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo
from auditor.evaluation import load_images
from auditor.loading import load_model, Classifier
from auditor.recipe import Recipe
from auditor import erasing
from sweep import PREPROCESSING
torch.set_num_threads(1)
KS = (1, 2, 4, 8)


def convs(net):
    return [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]


@torch.no_grad()
def responses(net, x):
    """Per image, every conv channel's spatial-mean output, concatenated over the convs."""
    out = []
    hooks = [c.register_forward_hook(lambda m, i, o: out.append(o.float().mean((2, 3)))) for c in convs(net)]
    net(x)
    for h in hooks:
        h.remove()
    return torch.cat(out, 1)


def channel_rise(net, clean, triggered):
    a, b = responses(net, clean), responses(net, triggered)
    return (b.mean(0) - a.mean(0)) / a.std(0).clamp_min(1e-6)


@torch.no_grad()
def zeroed(net, ranking, k):
    z = copy.deepcopy(net)
    cs = convs(z)
    sizes = [c.out_channels for c in cs]
    starts = np.cumsum([0] + sizes)
    for idx in ranking[:k].tolist():
        layer = int(np.searchsorted(starts, idx, side="right") - 1)
        ch = idx - starts[layer]
        cs[layer].weight[ch] = 0
        if cs[layer].bias is not None:
            cs[layer].bias[ch] = 0
    return z


def where(net, ranking, k):
    sizes = [c.out_channels for c in convs(net)]
    starts = np.cumsum([0] + sizes)
    return [(int(np.searchsorted(starts, i, side="right") - 1), int(i - starts[np.searchsorted(starts, i, side="right") - 1])) for i in ranking[:k].tolist()]


def warmup_players(teacher, spec, seed=0, **overrides):
    recipe = Recipe(seed=seed, **overrides)
    torch.manual_seed(recipe.seed)
    p = erasing._make_players(teacher, spec, recipe, "cpu")
    opts = erasing._make_optimizers(p, recipe)
    for it in range(recipe.warmup_iterations):
        erasing._set_learning_rates(opts, recipe, it)
        erasing.generator_step(p, opts["generator"], recipe)
        erasing.trigger_step(p, opts["triggers"], recipe)
    erasing.end_warmup(p, recipe)
    return p, recipe


def main():
    for name in sys.argv[1:]:
        info = json.loads((zoo.CACHE / name / "meta.json").read_text())
        loaded = load_model(info["model"], **PREPROCESSING)
        spec = loaded.spec
        net = Classifier(loaded.net, spec, loaded.output_index).eval().requires_grad_(False)
        shape = (info["size"], info["size"], 1)
        test, trig = load_images(info["test"], shape), load_images(info["triggered"], shape)
        tgt = info.get("target", zoo.TARGET)
        to_x = lambda px: spec.normalise(torch.from_numpy(np.ascontiguousarray(px)).permute(0, 3, 1, 2))

        def score(m):
            def f(px):
                with torch.no_grad():
                    return m(to_x(px)).argmax(1).numpy()
            r = zoo.scores(info["attack"], f, test.images, trig.images, test.labels, tgt)
            return r["acc"] * 100, (r["asr"] or 0) * 100
        row = {"name": name, "base": score(net)}
        rankings = {}
        if info["attack"] is not None:
            other = test.labels != tgt
            rankings["oracle"] = channel_rise(net, to_x(test.images[other][:500]), to_x(trig.images[other][:500]))
        p, recipe = warmup_players(net, spec)
        with torch.no_grad():
            x = spec.normalise(p.generator.sample(256))
            rankings["search"] = channel_rise(p.teacher, x, p.anchor(x))
        for key, rise in rankings.items():
            order = rise.argsort(descending=True)
            row[key] = {k: score(zeroed(net, order, k)) for k in KS}
            row[key + "_top"] = [(l, c, round(float(rise[i]), 1)) for (l, c), i in zip(where(net, order, 8), order[:8].tolist())]
        if "oracle" in rankings:
            o = set(rankings["oracle"].argsort(descending=True)[:8].tolist())
            s = set(rankings["search"].argsort(descending=True)[:8].tolist())
            row["overlap8"] = len(o & s)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
