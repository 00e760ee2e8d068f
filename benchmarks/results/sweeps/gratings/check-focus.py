"""(2026-12-06, diagnostic.) Which gratings the grating family (Recipe.grating_weight 3) blends
after the warm-up on a zoo model, in the search and in the anchor, and how far each raises the
suspect class the warm-up named:

    python benchmarks/results/sweeps/gratings/check-focus.py digits-resnet-sig-s0
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import zoo_teacher  # noqa: E402  (puts the repository on the path)
from auditor import erasing  # noqa: E402
from auditor.recipe import Recipe  # noqa: E402
from auditor.triggers import gratings  # noqa: E402

torch.set_num_threads(1)
for name in sys.argv[1:]:
    info, spec, net = zoo_teacher.load(name)
    recipe = Recipe(seed=0, grating_weight=3)
    torch.manual_seed(0)
    p = erasing._make_players(net, spec, recipe, "cpu")
    opts = erasing._make_optimizers(p, recipe)
    for it in range(recipe.warmup_iterations):
        erasing._set_learning_rates(opts, recipe, it)
        erasing.generator_step(p, opts["generator"], recipe)
        erasing.trigger_step(p, opts["triggers"], recipe)
    found = erasing.end_warmup(p, recipe)
    bank = gratings(spec)
    for who, search in (("search", p.triggers), ("anchor", p.anchor)):
        family = search.families[-1]
        kept = [next(i for i in range(len(bank)) if torch.equal(bank[i], g)) for g in family.stamps]
        rise = [round(float(family.rise[i, p.suspect]), 3) for i in kept] if p.suspect is not None else None
        print(name, who, found, "kept", kept, "suspect rise", rise)
