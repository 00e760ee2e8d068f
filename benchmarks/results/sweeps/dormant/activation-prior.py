"""(2026-12-06, diagnostic.) Does DAFL's activation prior make the generator's images ones the
planted trigger fires on?

DAFL (Chen et al., ICCV 2019, data-free distillation) adds to the generator's loss minus the mean
absolute value of the teacher's penultimate features: real images excite the features strongly,
noise does not. Here the warm-up (50 iterations, default recipe, seed 0) runs with that term at
weight w added to the generator's loss, and at its end the planted trigger is applied to 512 of
the generator's images: the share of those the teacher does not give the target that it sends
there (the planted SIG fired on 2-10 % of the default generator's images, on ~100 % of real ones;
sweeps.md). Also printed: the images' pixel mean (real digits 0.31) and the teacher's mean top
probability on them (real: 0.99).

    python benchmarks/results/sweeps/dormant/activation-prior.py MODEL_NAME...
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_teacher  # noqa: E402  (puts the repository and benchmarks/ on the path)
import oracle_trigger  # noqa: E402
from auditor import erasing  # noqa: E402
from auditor.evaluation import load_images  # noqa: E402
from auditor.penultimate import penultimate_features  # noqa: E402
from auditor.recipe import Recipe  # noqa: E402

torch.set_num_threads(1)
WEIGHTS = (0.0, 0.1, 1.0)


def warmup(teacher, spec, weight):
    recipe = Recipe(seed=0)
    torch.manual_seed(recipe.seed)
    p = erasing._make_players(teacher, spec, recipe, "cpu")
    opts = erasing._make_optimizers(p, recipe)
    moments = erasing.input_moments
    for it in range(recipe.warmup_iterations):
        erasing._set_learning_rates(opts, recipe, it)
        with penultimate_features(p.teacher) as features:
            # the generator step's teacher pass fills `features`; the prior term reads them
            erasing.input_moments = lambda x: moments(x) - weight * features[-1].abs().mean()
            erasing.generator_step(p, opts["generator"], recipe)
        erasing.input_moments = moments
        erasing.trigger_step(p, opts["triggers"], recipe)
    return p


def main():
    for name in sys.argv[1:]:
        info, spec, teacher = zoo_teacher.load(name)
        test = load_images(info["test"], (info["size"], info["size"], 1)).images[:512]
        with torch.no_grad(), penultimate_features(teacher) as features:
            teacher(spec.normalise(torch.from_numpy(test).permute(0, 3, 1, 2).contiguous()))
        print(json.dumps({"name": name, "real_pixel_mean": round(float(test.mean()), 3),
                          "real_feature_l1": round(float(features[-1].abs().mean()), 3)}), flush=True)
        for weight in WEIGHTS:
            p = warmup(teacher, spec, weight)
            flips = oracle_trigger.synthetic_flips(p, info["attack"])
            with torch.no_grad():
                pixels = p.generator.sample(512)
                top = teacher(spec.normalise(pixels)).softmax(1).amax(1).mean()
                with penultimate_features(teacher) as features:
                    teacher(spec.normalise(pixels))
            print(json.dumps({"name": name, "weight": weight, "planted_fires_teacher": flips["teacher"],
                              "pixel_mean": round(float(pixels.mean()), 3), "top_prob": round(float(top), 3),
                              "feature_l1": round(float(features[-1].abs().mean()), 3)}), flush=True)


if __name__ == "__main__":
    main()
