"""Is it the trigger search or the synthetic images? A clean where the search is told the answer.

A zoo model is cleaned in-process as `sweep.py --zoo` cleans it, except that when the warm-up
ends the anchor (the share of triggered images the warm-up's search would supply, half the
batch by default) becomes the attack's own planted trigger, or with `--noise` fresh uniform-noise
blends at the noise family's bound. If the student still follows the planted trigger on the real
test images, what the search finds is not what is missing: the synthetic images are. At the end
it prints how often the planted trigger sends synthetic images the student and the teacher do
not give the target to the target, to show the student was made blind to it there.

    python benchmarks/oracle_trigger.py digits-vgg-bn-blend20-s1
    python benchmarks/oracle_trigger.py digits-vgg-bn-blend20-s1 --set restyle_share=0.5 --noise
    python benchmarks/oracle_trigger.py digits-vgg-bn-blend20-s1 --anchored-images dark

With `--anchored-images dark`, from the warm-up's end the anchored images themselves (the first
anchor share of every student batch, and of the search's) are dark noise, pixels uniform in
[0, 0.2], with the teacher's answers on them: images on which every planted trigger of the
detection zoo fires (README, "Detection benchmark"), unlike the generator's. With `real`, they
are the model's own training images (never the test images it is scored on): data a real clean
does not have, so the bound on what better images could give. `--search-anchor` keeps the
warm-up search's own anchor instead of the planted trigger, so that with `real` images only the
images are an oracle: whether the search's triggers would erase the backdoor given the data.

`--anchored-images photo` puts crops of scikit-learn's flower photograph there instead: images
of the world, not of the data. No oracle either: `--shortcut-anchor` makes half the anchor the
original's shortcut (ShortcutAnchor: changes that push the teacher to the scan's top class from
dark starts), and `--shortcut-rows N` adds N rows of those changes to each student step instead
(the in-process form of `--shortcut-rows`; sweeps/shortcut-rows/), `--shortcut-scale` multiplies
those changes first. `--anchored-images impressions` puts there images the teacher was pushed to
each class from uniform noise by the scan's dense search (data-free; `impressions-but-suspect`
leaves out the warm-up's suspect class).

Diagnostic only: the planted trigger is never known in a real clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import auditor.erasing as erasing  # noqa: E402
import sweep  # noqa: E402  (benchmarks/ is the script's folder)
import zoo  # noqa: E402
from auditor.detection import scan_classifier, search_from  # noqa: E402
from auditor.recipe import START_SCALES, Recipe, ScanSettings  # noqa: E402
from auditor.triggers import NoiseBlendTrigger  # noqa: E402


class PlantedTrigger(torch.nn.Module):
    """zoo.stamp(attack, ·) on normalised images. Every zoo trigger but the warp is
    image · (1 − m) + p · m, affine in the image, so two stamped images give m and p · m; the
    warp resamples the image on the attack's fixed grid, which commutes with the normalisation."""

    def __init__(self, attack: str, spec):
        super().__init__()
        self.spec = spec
        self.grid = zoo.warp_grid(spec.height, np.random.default_rng(1234)) if attack == "warp" else None
        if self.grid is not None:
            return
        black = np.zeros((1, spec.height, spec.width, 1), np.float32)
        on_black, on_white = zoo.stamp(attack, black), zoo.stamp(attack, black + 1)
        self.register_buffer("keep", torch.from_numpy(on_white - on_black).permute(0, 3, 1, 2))
        self.register_buffer("added", torch.from_numpy(on_black).permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grid is not None:
            return zoo.warped(x, self.grid)
        return self.spec.normalise(self.spec.denormalise(x) * self.keep + self.added)


def pushed_to(model, spec, first: torch.Tensor, target: int,
              searches: tuple[str, ...] = ("dense", "sparse")) -> torch.Tensor:
    """The pixels reached from `first` up `target`'s margin by the scan's searches, the starts
    shared among them in order (as --shortcut-rows finds the original's shortcut)."""
    labels = torch.full((len(first),), target)
    return torch.cat([search_from(model, spec, f, y, ScanSettings(), search) for search, f, y
                      in zip(searches, first.chunk(len(searches)), labels.chunk(len(searches)))])


class ShortcutAnchor:
    """The scan's shortcut as an anchor, no oracle: the original (the teacher) is scanned, and
    pushed to the class it ranks first from `starts` dark starts, shared among `searches` (the
    scan's dense and sparse searches). Each change reached - start is a trigger: the first `share` of
    the anchored images carry one of them (added in pixels, kept in [0, 1]), the rest the
    warm-up search's own anchor."""

    def __init__(self, players, search_anchor, starts: int = 128, share: float = 0.5,
                 searches: tuple[str, ...] = ("dense", "sparse")):
        settings, spec = ScanSettings(), players.spec
        scan = scan_classifier(players.teacher, spec, settings)
        self.target, self.p_value = scan.verdict.suspect, scan.verdict.p_value
        first = START_SCALES["dark"] * torch.rand(
            starts, *spec.shape, generator=torch.Generator().manual_seed(settings.seed))
        reached = pushed_to(players.teacher, spec, first, self.target, searches)
        self.change, self.spec = reached - first, spec
        self.search_anchor, self.share = search_anchor, share
        with torch.no_grad():
            self.reach = float((players.teacher(spec.normalise(reached)).argmax(1) == self.target).float().mean())

    def paste(self, x: torch.Tensor) -> torch.Tensor:
        pick = torch.randint(len(self.change), (len(x),))
        return self.spec.normalise((self.spec.denormalise(x) + self.change[pick]).clamp(0, 1))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = int(self.share * len(x))
        return torch.cat([self.paste(x[:n]), self.search_anchor(x[n:])])


def add_shortcut_rows(players, shortcut: ShortcutAnchor, gratings: int) -> None:
    """The student step's added rows (recipe.grating_rows of them, the first `gratings` for the
    grating family) become the gratings' rows followed by the shortcut's pastes."""
    blend_gratings = players.triggers.extra_rows

    def extra_rows(x):
        with_gratings = blend_gratings(x[:gratings])
        return torch.cat([x[:gratings] if with_gratings is None else with_gratings,
                          shortcut.paste(x[gratings:])])
    players.triggers.extra_rows = extra_rows


def players_shape(job) -> tuple[int, int, int]:
    n, h, w, c = job["test"].images.shape
    return c, h, w


def synthetic_flips(players, attack: str) -> dict:
    """Per net, the share of 512 synthetic images it does not give the target that the planted
    trigger sends there."""
    planted = PlantedTrigger(attack, players.spec)
    flips = {}
    with torch.no_grad():
        x = players.spec.normalise(players.generator.sample(512))
        for who, net in (("teacher", players.teacher), ("student", players.student)):
            before, after = net(x).argmax(1), net(planted(x)).argmax(1)
            others = before != zoo.TARGET
            flips[who] = round(float((after[others] == zoo.TARGET).float().mean()), 3)
    return flips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a zoo model's name, e.g. digits-vgg-bn-blend20-s1")
    parser.add_argument("--set", nargs="*", default=[], dest="overrides")
    parser.add_argument("--noise", action="store_true",
                        help="fresh noise blends as the anchor instead of the planted trigger")
    parser.add_argument("--real-count", type=int, default=0,
                        help="with --anchored-images real: only this many training images (0: all)")
    parser.add_argument("--search-anchor", action="store_true",
                        help="keep the warm-up search's own anchor (no oracle): with "
                             "--anchored-images, only the images change")
    parser.add_argument("--shortcut-anchor", action="store_true",
                        help="half the anchor from the scan's shortcut (ShortcutAnchor), half "
                             "the search's own: no oracle")
    parser.add_argument("--shortcut-rows", type=int, default=0,
                        help="instead, this many rows of the shortcut's pastes added to each "
                             "student step, after the gratings' (the anchor stays the search's)")
    parser.add_argument("--shortcut-searches", nargs="+", choices=["dense", "sparse"],
                        default=["dense", "sparse"])
    parser.add_argument("--shortcut-scale", type=float, default=1.0,
                        help="the shortcut's changes multiplied by this before they are pasted")
    parser.add_argument("--anchored-images", default="synthetic",
                        choices=["synthetic", "dark", "real", "photo", "impressions",
                                 "impressions-but-suspect"],
                        help="what the anchored images are (see above)")
    parser.add_argument("--seed", type=int, default=0, help="the clean's seed")
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    job = sweep._zoo_job(args.model)
    # the all-to-all attack has no single target, and a control no trigger: only the search's
    # own anchor can run there, and the planted trigger's flips on synthetic images are not measured
    stamped = job["attack"] not in (None, zoo.ALL_TO_ALL)
    if not (stamped or args.search_anchor or args.shortcut_anchor or args.shortcut_rows):
        raise SystemExit(f"{args.model}: no planted trigger to anchor "
                         "(an all-to-all or control model runs with --search-anchor only)")
    overrides = sweep.parse_overrides(args.overrides)
    if args.shortcut_rows:
        overrides["grating_rows"] = Recipe().grating_rows + args.shortcut_rows
    job.update(overrides=overrides, seed=args.seed, threads=args.threads, every=args.every)
    held = {}

    def end_warmup(players, recipe):
        figures = original_end_warmup(players, recipe)
        if args.shortcut_anchor or args.shortcut_rows:
            shortcut = ShortcutAnchor(players, players.anchor, searches=tuple(args.shortcut_searches))
            shortcut.change *= args.shortcut_scale
            if args.shortcut_rows:
                add_shortcut_rows(players, shortcut, Recipe().grating_rows)
            else:
                players.anchor = shortcut
            held["shortcut"] = {"target": shortcut.target, "p_value": shortcut.p_value,
                                "teacher_reach": shortcut.reach, "rows": args.shortcut_rows,
                                "scale": args.shortcut_scale}
            print(f"shortcut anchor: {held['shortcut']}", flush=True)
        elif args.noise and not args.search_anchor:
            family = NoiseBlendTrigger(recipe.noise_alpha)
            players.anchor = lambda x: family(x, players.spec)
        elif not args.search_anchor:
            players.anchor = PlantedTrigger(job["attack"], players.spec)
        held["players"] = players
        return figures

    anchor_share = Recipe().with_overrides(**overrides).anchor_share
    if args.anchored_images == "real":
        (train, _), _ = zoo.load_dataset(zoo.Spec.from_name(args.model).dataset)
        real = torch.from_numpy(train).permute(0, 3, 1, 2).contiguous()
        if args.real_count:
            real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
                        [:args.real_count]]

    if args.anchored_images == "photo":
        photos = zoo.photo_crops(players_shape(job), 4096, torch.Generator().manual_seed(0))

    impressions = {}

    def class_impressions(players):
        """Data-free: 64 images a class the teacher was pushed to from uniform noise by the scan's
        dense search (all classes, or all but the warm-up's suspect)."""
        if "pixels" not in impressions:
            spec, skip = players.spec, players.suspect if args.anchored_images.endswith("suspect") else None
            labels = torch.tensor([c for c in range(spec.num_classes) if c != skip]).repeat_interleave(64)
            noise = torch.rand(len(labels), *spec.shape, generator=torch.Generator().manual_seed(1))
            with torch.enable_grad():
                impressions["pixels"] = search_from(players.teacher, spec, noise, labels,
                                                    ScanSettings(), "dense")
        return impressions["pixels"]

    def anchored_pixels(n, shape, players):
        if args.anchored_images.startswith("impressions"):
            pixels = class_impressions(players)
            return pixels[torch.randint(len(pixels), (n,))]
        if args.anchored_images == "dark":
            return START_SCALES["dark"] * torch.rand(n, *shape)
        if args.anchored_images == "photo":
            return photos[torch.randint(len(photos), (n,))]
        return real[torch.randint(len(real), (n,))]

    def synthetic_batch(players, batch):
        x, t = original_batch(players, batch)
        if args.anchored_images != "synthetic" and players.anchor is not None:
            n = int(anchor_share * batch)
            images = players.spec.normalise(anchored_pixels(n, players.spec.shape, players))
            x, t = torch.cat([images, x[n:]]), torch.cat([players.teacher(images), t[n:]])
        return x, t

    original_end_warmup, erasing.end_warmup = erasing.end_warmup, end_warmup
    original_batch, erasing.synthetic_batch = erasing.synthetic_batch, synthetic_batch
    run = sweep.run_one(job)
    players = held["players"]
    flips = synthetic_flips(players, job["attack"]) if stamped else None
    anchor_name = ("search, shortcut rows" if args.shortcut_rows else
                   "shortcut+search" if args.shortcut_anchor else "search" if args.search_anchor
                   else "noise" if args.noise else "planted")
    curve = "  ".join(f"{c['iteration']}: {100 * c['acc']:.1f}/{100 * c['asr']:.1f}" for c in run["curve"])
    on = "" if args.anchored_images == "synthetic" else f" on {args.anchored_images}"
    print(f"{args.model} anchor={anchor_name}{on} {overrides}: "
          f"ACC/ASR {curve}; stopped: {run['stop']['reason']}")
    if flips:
        print(f"planted trigger on 512 synthetic images, share sent to the target: "
              f"teacher {flips['teacher']:.3f}, student {flips['student']:.3f}")
    if args.out:
        args.out.write_text(json.dumps({**run, "anchor": anchor_name,
                                        "anchored_images": args.anchored_images,
                                        "real_count": args.real_count or None,
                                        "synthetic_flips": flips,
                                        "shortcut": held.get("shortcut")}, indent=1))


if __name__ == "__main__":
    main()
