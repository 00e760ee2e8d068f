"""(2026-12-06, diagnostic.) Which gratings would the first candidate's probe keep on a zoo
model (the 8 that raise any class most), and how far does each raise its class? Also the zoo's own SIG signal (4 cycles across the columns, phase 0: bank
index 48) for comparison, on the same probe images.

    python benchmarks/results/sweeps/gratings/which-gratings.py MODEL_NAME...
"""
import importlib.util
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
spec_ = importlib.util.spec_from_file_location("trigger_channels", HERE.parent / "trigger-channels.py")
tc = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(tc)
sys.path.insert(0, str(HERE.parent))
import zoo_teacher  # noqa: E402
from auditor.recipe import Recipe  # noqa: E402
from auditor.triggers import gratings  # noqa: E402

SIG = 48


def main():
    for name in sys.argv[1:]:
        info, spec, net = zoo_teacher.load(name)
        recipe = Recipe(seed=0)            # the warm-up is the defaults' (the first candidate's too)
        torch.manual_seed(0)
        p = tc.erasing._make_players(net, spec, recipe, "cpu")
        opts = tc.erasing._make_optimizers(p, recipe)
        for it in range(recipe.warmup_iterations):
            tc.erasing._set_learning_rates(opts, recipe, it)
            tc.erasing.generator_step(p, opts["generator"], recipe)
            tc.erasing.trigger_step(p, opts["triggers"], recipe)
        images = p.generator.sample(recipe.probe_images)
        alpha = recipe.blend_alpha
        bank = gratings(spec)
        with torch.no_grad():
            before = net(spec.normalise(images)).softmax(1).mean(0)
            rise = []
            for q in bank:
                after = net(spec.normalise((1 - alpha) * images + alpha * q)).softmax(1).mean(0)
                rise.append(after - before)
            rise = torch.stack(rise)
        best = rise.amax(1)
        order = best.argsort(descending=True)
        print(json.dumps({"name": name, "alpha": alpha,
                          "kept": [(int(i), int(rise[i].argmax()), round(float(best[i]), 3)) for i in order[:8]],
                          "sig_rank": int((order == SIG).nonzero()), "sig_rise_by_class":
                          [round(float(v), 3) for v in rise[SIG]]}), flush=True)


if __name__ == "__main__":
    main()
