"""(2026-12-06, diagnostic.) Which gratings the grating family (Recipe.grating_weight 3) blends
after the warm-up on a zoo model, in the search and in the anchor, and how far each raises the
suspect class the warm-up named:

    python benchmarks/results/sweeps/gratings/check-focus.py digits-resnet-sig-s0
"""
import sys
from pathlib import Path

import importlib.util

import torch

SWEEPS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SWEEPS))
import zoo_teacher  # noqa: E402  (puts the repository on the path)
from auditor.triggers import gratings  # noqa: E402

spec_ = importlib.util.spec_from_file_location("trigger_channels", SWEEPS / "trigger-channels.py")
tc = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(tc)           # its warm-up: warmup_players

torch.set_num_threads(1)
for name in sys.argv[1:]:
    info, spec, net = zoo_teacher.load(name)
    p, recipe = tc.warmup_players(net, spec, grating_weight=3)
    found = {"suspect_class": p.suspect, "suspect_rise": p.suspect_rise}
    bank = gratings(spec)
    for who, search in (("search", p.triggers), ("anchor", p.anchor)):
        family = search.families[-1]
        kept = [next(i for i in range(len(bank)) if torch.equal(bank[i], g)) for g in family.stamps]
        rise = [round(float(family.rise[i, p.suspect]), 3) for i in kept] if p.suspect is not None else None
        print(name, who, found, "kept", kept, "suspect rise", rise)
