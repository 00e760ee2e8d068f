"""(Diagnostic, 2026-12-07, session 44; decides nothing.) Do the warm-up's triggers flip images of
every class to one class, as a backdoor does, or only of a few, as a natural change would?
For one zoo model: the default recipe's warm-up (50 iterations, then the probe and the anchor),
then, per trigger family of the anchor, the class it raises most on the teacher and the share
of each source class (the teacher's class of the untriggered image) it sends there, on 512
synthetic images and on the model's real test images.

    python source_classes.py ZOO_NAME [ZOO_NAME ...]
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))   # benchmarks/, for zoo
import zoo  # noqa: E402
from auditor.erasing import (_make_optimizers, _make_players, _set_learning_rates, end_warmup,  # noqa: E402
                             family_rises, generator_step, trigger_step)
from auditor.loading import Classifier, load_model  # noqa: E402
from auditor.precision import nets_in, pass_dtype  # noqa: E402
from auditor.recipe import Recipe  # noqa: E402


def table(label, teacher, search, x, k):
    with torch.no_grad():
        before = teacher(x)
        source = before.argmax(1)
        shares = search.split(torch.arange(len(x)))
        triggered = search(x)
        after = teacher(triggered)
        rises = family_rises(before, after, search.split)
    print(f"  {label}: {len(x)} images")
    for f, (family, rows) in enumerate(zip(search.describe(), shares)):
        if not len(rows):
            continue
        target = int(rises[f].argmax())
        sent = after[rows].argmax(1) == target
        cells = []
        for c in range(k):
            mine = source[rows] == c
            cells.append(f"{100 * sent[mine].float().mean():3.0f}" if mine.sum() >= 3 and c != target else "  .")
        print(f"    {family:26} -> {target}  rise {rises[f, target]:.2f}  from each class (%): {' '.join(cells)}")


def main():
    torch.set_num_threads(2)
    for name in sys.argv[1:]:
        info = zoo.build(zoo.Spec.from_name(name))
        loaded = load_model(info["model"], mean=(zoo.MEAN,), std=(zoo.STD,))
        spec = loaded.spec
        teacher = Classifier(loaded.net, spec, loaded.output_index)
        recipe = Recipe(seed=0).for_input(spec)
        torch.manual_seed(recipe.seed)
        players = _make_players(teacher, spec, recipe, "cpu")
        optimizers = _make_optimizers(players, recipe)
        with nets_in(pass_dtype(recipe.precision, "cpu"), "cpu", [players.teacher, players.student, players.generator]):
            for iteration in range(recipe.warmup_iterations):
                _set_learning_rates(optimizers, recipe, iteration)
                generator_step(players, optimizers["generator"], recipe)
                trigger_step(players, optimizers["triggers"], recipe)
            found = end_warmup(players, recipe)
            print(f"{name} (target {info['target'] if info.get('attack') else None}): suspect {found}")
            synthetic = spec.normalise(players.generator.sample(512))
            data = np.load(info["test"])
            real = spec.normalise(torch.as_tensor(data["images"][:1000]).permute(0, 3, 1, 2).float() / 255)
            for label, x in (("synthetic", synthetic), ("real test images", real)):
                table(label, players.teacher, players.anchor, x, spec.num_classes)


if __name__ == "__main__":
    main()
