"""Which family makes each row of the student step's triggered batch at the defaults: the live half
as erasing.student_step cuts it at main 99d8a82, against each family's intended share.

    python shares.py > shares.txt   (from the repository root, PYTHONPATH=.)
"""
import torch
from auditor.recipe import Recipe
from auditor.input_spec import InputSpec
from auditor.triggers import TriggerSearch
r = Recipe()
spec = InputSpec(1, 16, 16, num_classes=10, mean=(0.5,), std=(0.25,))
ts = TriggerSearch.build(spec, patch_sizes=[3, 4], blend_alpha=r.blend_alpha, additive_epsilon=r.additive_epsilon,
                         noise_alpha=r.noise_alpha, patch_weight=r.patch_weight, noise_weight=r.noise_weight)
B = r.batch_size
idx = torch.arange(B)
owner = torch.cat([torch.full((len(s),), i) for i, s in enumerate(ts.split(idx))])
anchored = int(r.anchor_share * B)
live = owner[anchored:]
names = ts.describe()
print("batch", B, "anchored", anchored)
for i, n in enumerate(names):
    print(f"{n:32s} full-batch share {(owner == i).float().mean():.3f}  live rows in the student step {(live == i).sum().item()}  (intended {round((owner == i).float().mean().item() * (B - anchored))})")
