import copy
import dataclasses

import pytest
import torch

from auditor.erasing import (FigureReader, Players, class_rise, erase_backdoor, find_suspect,
                             generator_step, input_moments, student_step, trigger_step)
from auditor.image_pool import ImagePool
from auditor.input_spec import InputSpec
from auditor.loading import Classifier, load_model
from auditor.penultimate import head_of, penultimate_features
from auditor.precision import pass_dtype
from auditor.recipe import Recipe
from auditor.synthesis import ImageGenerator, jittered, restyled
from auditor.triggers import (AdditiveTrigger, BlendTrigger, GratingTrigger, NoiseBlendTrigger, PatchTrigger,
                              TriggerSearch, default_patch_size, gratings)

from .models import tiny_onnx

SPEC = InputSpec(3, 12, 10, num_classes=4, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 30, 20), (3, 32, 32), (1, 7, 9)])
def test_generator_makes_pixels_of_the_model_size(shape):
    pixels = ImageGenerator(shape, latent_dim=8, width=8).sample(3)
    assert pixels.shape == (3, *shape) and pixels.min() >= 0 and pixels.max() <= 1


def test_every_trigger_family_stays_within_its_bound():
    torch.manual_seed(0)
    pixels = torch.rand(16, *SPEC.shape)
    x = SPEC.normalise(pixels)
    std = SPEC.std_tensor().view(1, -1, 1, 1)
    patch = PatchTrigger(SPEC, 3)(x, SPEC)
    changed = ((patch - x).abs() > 1e-6).flatten(2).any(1).sum(1)
    assert (changed <= 9).all() and ((patch - x) * std).abs().max() <= 1 + 1e-5
    blend = BlendTrigger(SPEC, 0.2)(x, SPEC)
    assert ((blend - x) * std).abs().max() <= 0.2 + 1e-5
    additive = AdditiveTrigger(SPEC, 0.05)(x, SPEC)
    assert ((additive - x) * std).abs().max() <= 0.05 + 1e-5


def test_noise_blends_are_fresh_noise_within_their_bound():
    torch.manual_seed(0)
    family = NoiseBlendTrigger(0.4, low=0.25)
    assert list(family.parameters()) == []
    # on a black image the blend is α · u, u uniform in [0, 1]: α is about twice its mean pixel
    black = SPEC.normalise(torch.zeros(500, *SPEC.shape))
    first, second = SPEC.denormalise(family(black, SPEC)), SPEC.denormalise(family(black, SPEC))
    alpha = 2 * first.flatten(1).mean(1)
    assert first.min() >= 0 and first.max() <= 0.4 + 1e-6
    assert 0.07 < alpha.min() < 0.13 and 0.37 < alpha.max() < 0.44   # α fills [0.1, 0.4]
    assert not torch.allclose(first, second)                          # new noise on every call
    roughness = (first[..., 1:] - first[..., :-1]).abs().mean() / first.mean()
    assert roughness > 0.5                                            # noise, not a smooth shift
    # on any image a pixel moves by α · |u - pixel| ≤ the bound
    x = SPEC.normalise(torch.rand(64, *SPEC.shape))
    change = SPEC.denormalise(family(x, SPEC)) - SPEC.denormalise(x)
    assert change.abs().max() <= 0.4 + 1e-5
    search = TriggerSearch.build(SPEC, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.1,
                                 noise_alpha=0.4)
    assert search.describe()[-1] == "noise blend alpha<=0.4"
    assert len(TriggerSearch.build(SPEC, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.1)
               .families) == 3


@pytest.mark.parametrize("clamp", [False, True])
def test_clamped_triggers_stay_within_the_pixel_range(clamp):
    torch.manual_seed(0)
    search = TriggerSearch.build(SPEC, patch_sizes=[3], blend_alpha=0.2, additive_epsilon=0.3,
                                 clamp=clamp)
    for family in search.families:   # make every family push hard, both ways
        for p in family.parameters():
            p.data.normal_(0, 3)
    pixels = SPEC.denormalise(search(SPEC.normalise(torch.rand(60, *SPEC.shape))))
    inside = (pixels >= -1e-5).all() and (pixels <= 1 + 1e-5).all()
    assert inside if clamp else not inside


def test_the_search_splits_one_batch_between_families():
    search = TriggerSearch.build(SPEC, patch_sizes=[2, 4], blend_alpha=0.2, additive_epsilon=0.1)
    x = SPEC.normalise(torch.rand(10, *SPEC.shape))
    out = search(x)
    assert out.shape == x.shape
    assert search.describe() == ["patch 2x2", "patch 4x4", "blend alpha<=0.2", "additive eps<=0.1"]
    assert default_patch_size(InputSpec(3, 32, 32, 10)) == 5
    assert default_patch_size(InputSpec(1, 16, 16, 10)) == 3


@pytest.mark.parametrize("batch", [12, 13, 2])
def test_patch_families_take_their_weighted_share(batch):
    search = TriggerSearch.build(SPEC, patch_sizes=[2, 4], blend_alpha=0.2, additive_epsilon=0.1,
                                 patch_weight=2.0)
    sizes = [len(share) for share in search.split(torch.zeros(batch))]
    assert sum(sizes) == batch
    assert all(abs(n - batch * w / 6) < 1 for n, w in zip(sizes, [2, 2, 1, 1]))
    even = TriggerSearch.build(SPEC, patch_sizes=[2, 4], blend_alpha=0.2, additive_epsilon=0.1)
    assert [len(s) for s in even.split(torch.zeros(10))] == [3, 3, 2, 2]   # as tensor_split
    with pytest.raises(ValueError):
        TriggerSearch(SPEC, list(even.families), weights=[1.0, 0.0, 1.0, 1.0])


def test_the_noise_family_takes_its_weighted_share():
    search = TriggerSearch.build(SPEC, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.1,
                                 noise_alpha=0.4, patch_weight=2.0, noise_weight=3.0)
    assert search.describe()[-1] == "noise blend alpha<=0.4"
    assert [len(s) for s in search.split(torch.zeros(70))] == [20, 10, 10, 30]


def test_restyled_images_are_remapped_pixels_and_the_rest_untouched():
    torch.manual_seed(0)
    pixels = 0.55 + 0.2 * torch.rand(64, *SPEC.shape)       # bright, as the generator's are
    x = SPEC.normalise(pixels)
    out, where = restyled(x, 0.5, SPEC)
    assert len(where) == 32 and len(set(where.tolist())) == 32
    rest = torch.ones(64, dtype=torch.bool)
    rest[where] = False
    assert torch.equal(out[rest], x[rest])
    remapped = SPEC.denormalise(out[where])
    assert remapped.min() >= 0 and remapped.max() <= 1 + 1e-6
    # inversion and powers above 1 reach the dark pixels the bright images lack
    assert (remapped < 0.1).float().mean() > 0.05 and (pixels < 0.1).sum() == 0
    assert torch.equal(restyled(x, 0.0, SPEC)[0], x)


def test_jittered_images_are_each_rolled_by_their_own_bounded_shift():
    torch.manual_seed(0)
    pixels = torch.rand(64, 2, 9, 11)
    out = jittered(pixels, 2)
    shifts = set()
    for image, rolled in zip(pixels, out):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(torch.roll(image, (dy, dx), (1, 2)), rolled)]
        assert len(found) == 1                  # one roll of that image, both channels alike
        shifts.add(found[0])
    assert len(shifts) > 12                     # of the 25 possible: drawn per image
    assert torch.equal(jittered(pixels, 0), pixels)


def test_the_generator_step_pools_the_jittered_images_with_the_teachers_answer_on_them(tmp_path):
    players = _players(tmp_path)
    players.pool = ImagePool(1)
    torch.manual_seed(0)
    drawn = players.spec.normalise(players.generator.sample(16))
    torch.manual_seed(0)                        # the step draws the same images, then rolls them
    generator_step(players, torch.optim.Adam(players.generator.parameters(), lr=0.0),
                   Recipe(batch_size=16, image_jitter=2))
    pooled, answers = players.pool.images[-1], players.pool.answers[-1]
    assert torch.allclose(players.teacher(pooled), answers, atol=1e-5)
    shifts = [[(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
               if torch.allclose(torch.roll(image, (dy, dx), (1, 2)), rolled, atol=1e-6)]
              for image, rolled in zip(drawn, pooled)]
    assert all(shifts) and any((0, 0) not in found for found in shifts)


def test_the_feature_penalty_reads_the_heads_input_on_the_images_the_logit_penalty_reads(
        tmp_path, monkeypatch):
    players = _players(tmp_path)
    head = head_of(players.student)
    assert head is not None
    fed = []
    head.register_forward_pre_hook(lambda module, args: fed.append(args[0].flatten(1).detach()))
    seen = {}

    def objective(clean, triggered, weight):
        seen.update(clean=clean.detach(), triggered=triggered.detach(), weight=weight)
        return triggered.sum() * 0.0

    monkeypatch.setattr("auditor.erasing.feature_objective", objective)
    recipe = Recipe(batch_size=16, feature_weight=0.3, suspect_rise=0.0)
    student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.0), recipe)
    assert seen["weight"] == 0.3
    assert torch.equal(seen["clean"], fed[0]) and torch.equal(seen["triggered"], fed[1])
    assert len(head._forward_pre_hooks) == 1           # the step removed its own hook
    # images of the suspect class left out of distillation are left out of the feature term too
    fed.clear()
    torch.manual_seed(1)
    players.suspect = int(players.teacher(players.spec.normalise(
        players.generator.sample(64))).argmax(1).mode().values)
    torch.manual_seed(1)                                # the step draws those same images
    student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.0),
                 Recipe(batch_size=64, feature_weight=0.3, suspect_share=0.5))
    assert len(seen["clean"]) == len(seen["triggered"]) == len(fed[1]) < len(fed[0])
    assert all((fed[0] == row).all(1).any() for row in seen["clean"])
    seen.clear()
    players.suspect = None
    student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.0), Recipe(batch_size=16))
    assert not seen                                     # off by default


def test_penultimate_features_are_none_where_no_linear_layer_makes_the_logits():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 4), torch.nn.Flatten())
    assert head_of(net) is None
    with penultimate_features(net) as features:
        net(torch.rand(2, 1, 4, 4))
    assert features == []


def test_restyled_images_are_labelled_by_the_teacher_afresh(tmp_path, monkeypatch):
    players = _players(tmp_path)
    players.pool = ImagePool(2)
    x = players.spec.normalise(torch.rand(16, *players.spec.shape))
    stale = torch.zeros(16, players.spec.num_classes)              # not what the teacher says
    players.pool.add(x, stale)
    seen = {}

    def objective(s, t, s_triggered, weight):
        seen["t"] = t
        return (s - t).abs().mean()

    monkeypatch.setattr("auditor.erasing.student_objective", objective)
    recipe = Recipe(batch_size=16, restyle_share=0.25, suspect_rise=0.0)
    student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.0), recipe)
    fresh = (seen["t"] != 0).any(1)
    assert int(fresh.sum()) == 4


def test_patch_positions_follow_where_shifts_were_seen():
    torch.manual_seed(0)
    family = PatchTrigger(SPEC, 3)
    x = SPEC.normalise(torch.rand(64, *SPEC.shape))
    hot = 2 * family.grid[1] + 5                       # row 2, column 5
    for _ in range(20):
        family(x, SPEC)
        family.observe((family.last_positions == hot).float() * 5 + 0.1)
    family(x, SPEC)
    share = (family.last_positions == hot).float().mean()
    assert share > 0.3                                 # targeted half goes there; uniform: 1/80


def _players(tmp_path):
    torch.manual_seed(0)
    loaded = load_model(tiny_onnx(tmp_path))
    teacher = Classifier(loaded.net, loaded.spec, 0).requires_grad_(False)
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.3 * torch.randn_like(p))
    spec = loaded.spec
    triggers = TriggerSearch.build(spec, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.1)
    generator = ImageGenerator(spec.shape, latent_dim=16, width=16, num_classes=spec.num_classes)
    return Players(teacher, student, generator, triggers, spec)


def test_student_steps_pull_the_student_to_the_teacher(tmp_path):
    players = _players(tmp_path)
    recipe = Recipe(batch_size=32, reg_weight=0.0, lr_student=0.05)
    optimizer = torch.optim.SGD(players.student.parameters(), lr=recipe.lr_student, momentum=0.9)
    first = student_step(players, optimizer, recipe)["distill"]
    for _ in range(30):
        last = student_step(players, optimizer, recipe)["distill"]
    assert last < 0.5 * first


def test_a_student_step_on_one_image_gives_the_anchor_none(tmp_path):
    # the anchor's half of a one-image batch is empty; --batch-size 1 once failed in torch.cat
    players = _players(tmp_path)
    players.anchor = copy.deepcopy(players.triggers).eval()
    figures = student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.01),
                           Recipe(batch_size=1, suspect_rise=0.0))
    assert all(torch.isfinite(v) for v in figures.values())
    assert players.triggers(torch.zeros(0, *players.spec.shape)).shape[0] == 0


def test_generator_and_trigger_steps_update_only_their_player(tmp_path):
    players = _players(tmp_path)
    recipe = Recipe(batch_size=16)
    student_before = [p.clone() for p in players.student.parameters()]
    gen_before = [p.clone() for p in players.generator.parameters()]
    trig_before = [p.clone() for p in players.triggers.parameters()]
    figures = generator_step(players, torch.optim.Adam(players.generator.parameters()), recipe)
    figures.update(trigger_step(players, torch.optim.Adam(players.triggers.parameters()), recipe))
    assert set(figures) == {"generator", "class_loss", "class_entropy", "trigger"}
    assert all(torch.equal(a, b) for a, b in zip(student_before, players.student.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(gen_before, players.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(trig_before, players.triggers.parameters()))


def test_erase_backdoor_reports_every_iteration(tmp_path):
    loaded = load_model(tiny_onnx(tmp_path))
    teacher = Classifier(loaded.net, loaded.spec, 0)
    seen = []
    recipe = Recipe(iterations=3, warmup_iterations=1, batch_size=8, student_steps=2)
    result = erase_backdoor(teacher, loaded.spec, recipe, on_iteration=lambda i, f: seen.append((i, f)))
    assert [i for i, _ in seen] == [0, 1, 2]
    assert "agreement" not in seen[0][1] and "agreement" in seen[1][1]   # warm-up: generators only
    assert set(result.final) == {"suspect_class", "suspect_rise", "reset_channels", "agreement",
                                "teacher_trigger_flips", "student_trigger_flips", "precision"}
    assert result.final["precision"] == ("bfloat16" if pass_dtype("auto", "cpu") else "float32")
    assert not any(p.requires_grad for p in result.student.parameters())
    assert all(type(v) is float for _, f in seen for k, v in f.items() if k != "suspect_class"
               and k != "suspect")
    assert result.history == [f for _, f in seen]


@pytest.mark.parametrize("steps", [1, 3])
def test_the_generator_takes_its_warm_up_steps_then_one_an_iteration(tmp_path, monkeypatch, steps):
    calls = []

    def counted(*args):
        calls.append(1)
        return generator_step(*args)

    monkeypatch.setattr("auditor.erasing.generator_step", counted)
    loaded = load_model(tiny_onnx(tmp_path))
    recipe = Recipe(iterations=4, warmup_iterations=2, warmup_generator_steps=steps, batch_size=8,
                    student_steps=1, stop_window=0)
    per_iteration = []
    erase_backdoor(Classifier(loaded.net, loaded.spec, 0), loaded.spec, recipe,
                   inspect=lambda i, student: per_iteration.append(len(calls)))
    assert [b - a for a, b in zip([0] + per_iteration, per_iteration)] == [steps, steps, 1, 1]


def test_figures_are_read_a_few_iterations_at_a_time_and_in_order(monkeypatch):
    monkeypatch.setattr(FigureReader, "every", 3)
    monkeypatch.setattr(FigureReader, "seconds", 1e9)
    history, seen = [], []
    reader = FigureReader(history, lambda i, f: seen.append((i, f)))
    for i in range(5):
        reader.add(i, {"loss": torch.tensor(float(i)), "agreement": torch.tensor(i / 10), "n": i})
        assert len(seen) == (3 if i >= 2 else 0)
    reader.add(5, {"loss": torch.tensor(5.0), "n": 5}, now=True)
    assert [i for i, _ in seen] == list(range(6))
    assert [f["loss"] for _, f in seen] == [float(i) for i in range(6)]
    assert [f["agreement"] for _, f in seen[:5]] == pytest.approx([i / 10 for i in range(5)])
    assert all(type(f["loss"]) is float and f["n"] == i for i, f in seen)
    assert history == [f for _, f in seen]


def test_the_pool_keeps_the_last_batches_and_draws_without_repeats():
    pool = ImagePool(batches=2)
    for first in (0, 10, 20):
        images = torch.arange(first, first + 10.0)[:, None]
        pool.add(images, -images)
    assert len(pool) == 20
    drawn, answers = pool.draw(15)
    assert sorted(drawn.flatten().tolist()) == sorted(set(drawn.flatten().tolist()))
    assert drawn.min() >= 10                       # the oldest batch is gone
    assert torch.equal(answers, -drawn)            # each image keeps its own answer
    assert len(pool.draw(50)[0]) == 20


def test_with_a_pool_only_the_generator_step_draws_new_images(tmp_path):
    players = _players(tmp_path)
    players.pool = ImagePool(batches=3)
    calls = {"generator": 0, "teacher": 0}
    players.generator.register_forward_hook(lambda *_: calls.__setitem__("generator", calls["generator"] + 1))
    players.teacher.register_forward_hook(lambda *_: calls.__setitem__("teacher", calls["teacher"] + 1))
    recipe = Recipe(batch_size=16)
    student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.01), recipe)
    assert calls == {"generator": 1, "teacher": 1}   # an empty pool is filled once
    generator_step(players, torch.optim.Adam(players.generator.parameters()), recipe)
    assert calls == {"generator": 2, "teacher": 2} and len(players.pool) == 32
    for _ in range(3):
        student_step(players, torch.optim.SGD(players.student.parameters(), lr=0.01), recipe)
    trigger_step(players, torch.optim.Adam(players.triggers.parameters()), recipe)
    assert calls == {"generator": 2, "teacher": 2}


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_generator_step_runs_the_student_only_for_the_adversarial_term(tmp_path, weight):
    players = _players(tmp_path)
    runs = []
    players.student.register_forward_hook(lambda *_: runs.append(1))
    before = [q.clone() for q in players.generator.parameters()]
    generator_step(players, torch.optim.Adam(players.generator.parameters()),
                   Recipe(batch_size=16, disagreement_weight=weight))
    assert len(runs) == (1 if weight else 0)
    assert any(not torch.equal(a, b) for a, b in zip(before, players.generator.parameters()))


def test_the_image_prior_pulls_synthetic_images_towards_the_normalisations_mean(tmp_path):
    def distance_after_steps(weight):
        torch.manual_seed(0)
        players = _players(tmp_path)
        optimizer = torch.optim.Adam(players.generator.parameters(), lr=0.01)
        for _ in range(20):
            generator_step(players, optimizer, Recipe(batch_size=16, image_l2_weight=weight))
        torch.manual_seed(1)
        return players.spec.normalise(players.generator.sample(64)).pow(2).mean().item()

    assert distance_after_steps(5.0) < 0.5 * distance_after_steps(0.0)


def test_input_moments_measures_each_channels_mean_and_std_against_0_and_1():
    torch.manual_seed(0)
    x = torch.randn(256, 2, 16, 16)
    x[:, 1] = 3 * x[:, 1] + 1             # channel 1: mean 1, std 3 → (1 + 4) / 2 over two channels
    assert input_moments(x).item() == pytest.approx(2.5, abs=0.05)


def test_the_input_moments_prior_moves_synthetic_images_towards_the_normalisations_statistics(tmp_path):
    def moments_after_steps(weight):
        torch.manual_seed(0)
        players = _players(tmp_path)
        # statistics that pixels in [0, 1] can meet, as real data's do (the test model's 0 and 1 cannot)
        players.spec = dataclasses.replace(players.spec, mean=(0.3,), std=(0.3,))
        optimizer = torch.optim.Adam(players.generator.parameters(), lr=0.01)
        for _ in range(20):
            generator_step(players, optimizer, Recipe(batch_size=16, input_moments_weight=weight))
        torch.manual_seed(1)
        return input_moments(players.spec.normalise(players.generator.sample(64))).item()

    assert moments_after_steps(5.0) < 0.5 * moments_after_steps(0.0)


def test_the_input_moments_prior_is_off_when_the_normalisation_states_nothing(tmp_path):
    spec = _players(tmp_path).spec
    assert not spec.states_statistics                    # the test model: mean 0, std 1
    assert Recipe(input_moments_weight=1.0).for_input(spec).input_moments_weight == 0.0
    uint8_scale = dataclasses.replace(spec, mean=(0.0,), std=(1 / 255,))   # loading.py's, for uint8
    assert Recipe(input_moments_weight=1.0).for_input(uint8_scale).input_moments_weight == 0.0
    stated = dataclasses.replace(spec, mean=(0.5,), std=(0.5,))
    assert stated.states_statistics
    assert Recipe(input_moments_weight=1.0).for_input(stated).input_moments_weight == 1.0


def test_anchored_triggers_take_their_share_of_the_student_batch(tmp_path):
    players = _players(tmp_path)
    seen = []

    class Anchor(torch.nn.Module):
        def forward(self, x):
            seen.append(x.shape[0])
            return x + 1.0

    players.anchor = Anchor()
    recipe = Recipe(batch_size=16, anchor_share=0.25)
    optimizer = torch.optim.SGD(players.student.parameters(), lr=0.0)
    student_step(players, optimizer, recipe)
    assert seen == [4]


def test_the_anchor_is_taken_when_the_warm_up_ends(tmp_path, monkeypatch):
    import auditor.erasing as erasing

    taken = {}
    original = erasing.student_step

    def spy(players, optimizer, recipe):
        taken.setdefault("anchor", players.anchor)
        return original(players, optimizer, recipe)

    monkeypatch.setattr(erasing, "student_step", spy)
    loaded = load_model(tiny_onnx(tmp_path))
    recipe = Recipe(iterations=3, warmup_iterations=2, batch_size=8, student_steps=1)
    erase_backdoor(Classifier(loaded.net, loaded.spec, 0), loaded.spec, recipe)
    assert isinstance(taken["anchor"], TriggerSearch)
    assert not any(p.requires_grad for p in taken["anchor"].parameters())


def _distance_to_teacher(players) -> float:
    return float(sum(((s - t) ** 2).sum() for s, t in
                     zip(players.student.parameters(), players.teacher.parameters())).sqrt())


@pytest.mark.parametrize("tether", [0.0, 10.0])
def test_the_tether_pulls_the_student_back_to_the_teacher(tmp_path, tether):
    # one plain SGD step: the tether alone would leave 1 - lr·weight = 0.5 of the distance, and
    # the distillation step (L1, small gradients) moves the weights little either way
    players = _players(tmp_path)
    before = _distance_to_teacher(players)
    optimizer = torch.optim.SGD(players.student.parameters(), lr=0.05)
    student_step(players, optimizer, Recipe(batch_size=8, reg_weight=0.0, tether_weight=tether))
    ratio = _distance_to_teacher(players) / before
    assert (ratio < 0.6) if tether else (ratio > 0.9)


def test_class_rise_rewards_sending_every_image_to_one_class():
    # the same per-image change, once towards one class for all, once towards each image's own
    s = torch.zeros(8, 4)
    one_class, own_class = s.clone(), s.clone()
    one_class[:, 2] = 5.0
    own_class[torch.arange(8), torch.arange(8) % 4] = 5.0
    whole = lambda t: (t,)   # noqa: E731
    assert class_rise(s, one_class, whole) > 3 * class_rise(s, own_class, whole)
    # two families, each judged on its own half of the batch
    halves = torch.cat([one_class[:4], own_class[4:]])
    expected = (class_rise(s[:4], one_class[:4], whole) + class_rise(s[4:], own_class[4:], whole)) / 2
    assert torch.allclose(class_rise(s, halves, lambda t: t.tensor_split(2)), expected)


def test_a_targeted_search_step_moves_the_trigger_players(tmp_path):
    players = _players(tmp_path)
    before = [p.clone() for p in players.triggers.parameters()]
    recipe = Recipe(batch_size=16, targeted_search=True)
    figures = trigger_step(players, torch.optim.Adam(players.triggers.parameters()), recipe)
    assert figures["trigger"] < 0     # a rise, maximised
    assert all(not torch.equal(a, b) for a, b in zip(before, players.triggers.parameters()))


class _CornerBackdoor(torch.nn.Module):
    """Class 2 when the top-left 3 × 3 pixels are bright (a planted white patch), else noise."""

    def forward(self, x):
        pixels = SPEC.denormalise(x)
        corner = pixels[:, :, :3, :3].mean((1, 2, 3))
        logits = torch.zeros(x.shape[0], SPEC.num_classes)
        logits[:, 2] = 20 * (corner - 0.8)
        return logits + 0.01 * pixels.mean((1, 2, 3))[:, None]


def test_the_patch_probe_finds_the_planted_corner_and_sends_patches_there():
    torch.manual_seed(0)
    family = PatchTrigger(SPEC, 3)
    family.probe(_CornerBackdoor(), 0.5 * torch.rand(16, *SPEC.shape), SPEC)
    assert int(family.prior.argmax()) == 0                      # row 0, column 0
    assert family.prior[0] > 0.5 and family.prior[1:].max() < 0.5 * family.prior[0]
    family(SPEC.normalise(torch.rand(300, *SPEC.shape)), SPEC)
    # without bandit observations: half uniform (1/80 each), half from the probe's map
    assert (family.last_positions == 0).float().mean() > 0.2


def test_the_probe_grid_is_coarser_on_large_images():
    spec = InputSpec(1, 64, 64, num_classes=4)
    family = PatchTrigger(spec, 3)
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return torch.zeros(x.shape[0], 4)

    family.probe(model, torch.rand(4, 1, 64, 64), spec, max_positions=100)
    assert family.prior.shape == (62 * 62,)
    assert sum(calls) - 4 <= 4 * 4 * 100        # 4 patterns × 4 images × at most 100 positions


def test_the_probe_screen_measures_every_stamp_on_a_few_images_and_the_strongest_on_all():
    torch.manual_seed(0)
    pixels = 0.5 * torch.rand(64, *SPEC.shape)
    full, screened = (PatchTrigger(SPEC, 3, stamp_count=4) for _ in range(2))
    full.probe(_CornerBackdoor(), pixels, SPEC)
    seen = []

    def model(x):
        seen.append(x.shape[0])
        return _CornerBackdoor()(x)

    screened.probe(model, pixels, SPEC, screen_images=16, rescored=6)
    positions = full.grid[0] * full.grid[1]
    # the mean without a stamp on all 64 images; every stamp on 16, six on all 64
    assert sum(seen) == 64 + 4 * positions * 16 + 6 * 64
    for kept, reference in zip(screened.stamps, full.stamps):
        assert torch.equal(kept, reference)
    # the kept stamps' rises are the 64 images', not the screen's
    assert torch.allclose(screened.stamp_rise, full.stamp_rise, atol=1e-6)
    assert int(screened.prior.argmax()) == int(full.prior.argmax()) == 0


class _BrightPatchOnDarkImages(torch.nn.Module):
    """Class 2 for a bright 3 × 3 window anywhere on a dark image, on a brighter one only at the
    top left: on the dark images alone every white stamp sends all of them to class 2."""

    def forward(self, x):
        pixels = SPEC.denormalise(x)
        windows = torch.nn.functional.avg_pool2d(pixels.mean(1, keepdim=True), 3, stride=1).flatten(1)
        bright = torch.where(pixels.mean((1, 2, 3)) < 0.3, windows.amax(1), windows[:, 0])
        logits = torch.zeros(x.shape[0], SPEC.num_classes)
        logits[:, 2] = 20 * (bright - 0.8)
        return logits


def test_a_screened_stamp_keeps_the_rise_it_has_on_all_the_images():
    torch.manual_seed(0)
    # the screen sees 16 dark images, where dozens of white stamps tie; 48 brighter ones follow
    pixels = torch.cat([0.2 * torch.rand(16, *SPEC.shape), 0.3 + 0.4 * torch.rand(48, *SPEC.shape)])
    model = _BrightPatchOnDarkImages()
    family = PatchTrigger(SPEC, 3, stamp_count=4)
    family.probe(model, pixels, SPEC, screen_images=16, rescored=6)
    before = model(SPEC.normalise(pixels)).softmax(1).mean(0)
    on_all = family._rises(model, pixels, SPEC, *(v[:1] for v in family.stamps), before)[0]
    assert torch.allclose(family.stamp_rise, on_all, atol=1e-6)


def test_the_probe_keeps_its_strongest_stamps_and_they_stamp_exactly():
    torch.manual_seed(0)
    family = PatchTrigger(SPEC, 3, stamp_every=2, stamp_count=4)
    family.probe(_CornerBackdoor(), 0.5 * torch.rand(16, *SPEC.shape), SPEC)
    patterns, rows, cols = family.stamps
    assert len(patterns) == 4
    assert (int(patterns[0]), int(rows[0]), int(cols[0])) == (0, 0, 0)    # white, top left
    pixels = torch.rand(6, *SPEC.shape)
    out = SPEC.denormalise(family(SPEC.normalise(pixels), SPEC))
    for i in range(1, 6, 2):                   # every second image carries a stamp, replacing
        position = int(family.last_positions[i])
        r, c = position // family.grid[1], position % family.grid[1]
        window = out[i, :, r:r + 3, c:c + 3]
        # exactly the pattern of a stamp the probe kept at that position
        kept = [int(k) for k, sr, sc in zip(*family.stamps) if (int(sr), int(sc)) == (r, c)]
        assert any(torch.allclose(window, _stamp_pattern(k, 3).expand_as(window), atol=1e-5)
                   for k in kept)
        outside = torch.ones(SPEC.height, SPEC.width, dtype=torch.bool)
        outside[r:r + 3, c:c + 3] = False
        assert torch.allclose(out[i][:, outside], pixels[i][:, outside], atol=1e-5)
    assert not torch.allclose(out[0], pixels[0], atol=1e-3)     # the learned patch, pasted


class _SignalBackdoor(torch.nn.Module):
    """Class 1 when the image correlates with one grating (2 cycles across the columns, a
    quarter-period on), as a SIG backdoor answers to its sinusoid; else nearly nothing."""
    GRATING = 17                               # (cycles index 1 × 4 + columns 0) × 4 phases + 1

    def forward(self, x):
        pixels = SPEC.denormalise(x)
        signal = gratings(SPEC)[self.GRATING] - 0.5
        logits = torch.zeros(x.shape[0], SPEC.num_classes)
        logits[:, 1] = 400 * ((pixels - 0.5) * signal).mean((1, 2, 3))
        return logits


def test_the_grating_family_waits_for_the_suspect_then_blends_what_raises_it():
    torch.manual_seed(0)
    bank = gratings(SPEC)
    assert bank.shape == (96, 3, 12, 10) and bank.min() >= 0 and bank.max() <= 1
    family = GratingTrigger(SPEC, 0.2, count=3)
    x = SPEC.normalise(torch.rand(6, *SPEC.shape))
    family.probe(_SignalBackdoor(), 0.5 * torch.rand(16, *SPEC.shape), SPEC)
    assert family.rise.shape == (96, SPEC.num_classes)
    assert torch.equal(family(x, SPEC), x)     # nothing blended before the suspect is named
    family.focus(1)
    assert len(family.stamps) == 3 and torch.equal(family.stamps[0], bank[_SignalBackdoor.GRATING])
    pixels = SPEC.denormalise(x)
    out = SPEC.denormalise(family(x, SPEC))
    for i in range(6):                          # each image blends one of the kept gratings
        assert any(torch.allclose(out[i], 0.8 * pixels[i] + 0.2 * g, atol=1e-5) for g in family.stamps)
    family.focus(3)                             # a class no grating raises: still the best 3 for it
    assert not any(torch.equal(g, bank[_SignalBackdoor.GRATING]) for g in family.stamps)
    family.focus(None)                          # no suspect: the gratings that raise any class most
    assert torch.equal(family.stamps[0], bank[_SignalBackdoor.GRATING])
    either = GratingTrigger(SPEC, 0.2, count=3, also_any=True)
    either.rise = family.rise
    either.focus(3)                             # a wrong suspect leaves the strongest raisers in play
    assert 3 < len(either.stamps) <= 6
    assert any(torch.equal(g, bank[_SignalBackdoor.GRATING]) for g in either.stamps)
    search = TriggerSearch.build(SPEC, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.0,
                                 grating_weight=3.0)
    assert isinstance(search.families[-1], GratingTrigger) and search.weights[-1] == 3.0
    assert not any(isinstance(f, GratingTrigger) for f in
                   TriggerSearch.build(SPEC, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.0).families)


@pytest.mark.parametrize("with_suspect", [False, True])
def test_added_grating_images_take_the_batchs_penalty_per_image_on_top_of_it(tmp_path, monkeypatch,
                                                                              with_suspect):
    import auditor.erasing as erasing

    players = _players(tmp_path)
    assert players.triggers.extra is None                # off by default
    assert players.triggers.extra_rows(torch.zeros(2, *players.spec.shape)) is None
    players.triggers = TriggerSearch.build(players.spec, patch_sizes=[2], blend_alpha=0.2,
                                           additive_epsilon=0.1, grating_rows=8)
    extra = players.triggers.extra
    assert extra not in players.triggers.families and "on added images" in players.triggers.describe()[-1]
    fed, outs, seen = [], [], {}
    players.student.register_forward_pre_hook(lambda module, args: fed.append(args[0].detach()))
    players.student.register_forward_hook(lambda module, args, out: outs.append(out.detach()))

    def distance(a, b, weight):
        seen.update(a=a.detach(), b=b.detach(), weight=weight)
        return a.sum() * 0.0

    def objective(s, t, s_triggered, reg_weight):
        seen["rows"] = len(s)
        return s.sum() * 0.0

    monkeypatch.setattr(erasing, "logit_distance", distance)
    monkeypatch.setattr(erasing, "student_objective", objective)
    optimizer = torch.optim.SGD(players.student.parameters(), lr=0.0)
    recipe = Recipe(batch_size=16, grating_rows=8, suspect_share=0.0)
    student_step(players, optimizer, recipe)
    assert len(fed) == 2 and "a" not in seen          # nothing to blend before the warm-up's probe
    players.triggers.probe(players.teacher, players.generator.sample(8).detach())
    classes = players.spec.num_classes

    class Teacher(torch.nn.Module):     # class 1 for the brighter half of each batch, else 0
        def forward(self, x):
            brightness = x.mean((1, 2, 3))
            return 10.0 * torch.nn.functional.one_hot((brightness > brightness.median()).long(), classes)

    players.teacher = Teacher()
    torch.manual_seed(1)
    answers = players.teacher(players.spec.normalise(players.generator.sample(16))).argmax(1)
    suspect = 1 if with_suspect else None
    players.suspect = suspect
    players.triggers.focus(suspect)
    assert extra.stamps is not None
    fed.clear(), outs.clear(), seen.clear()
    torch.manual_seed(1)                                 # the step draws those same images
    student_step(players, optimizer, recipe)
    clean, added = fed[0], fed[2]
    kept = len(added)
    # the suspect's images are spared here as in the rest of the batch (suspect_share 0)
    assert kept == (8 if suspect is None else int((answers[:8] != suspect).sum()))
    assert kept < 8 if with_suspect else kept == 8
    assert seen["weight"] == pytest.approx(recipe.reg_weight * kept / seen["rows"])
    assert torch.equal(seen["a"], outs[2])
    pixels, blended = players.spec.denormalise(clean[:8]), players.spec.denormalise(added)
    for row, image in enumerate(blended):            # a kept grating blended into one of the first 8
        match = [i for i in range(8) for g in extra.stamps
                 if torch.allclose(image, 0.8 * pixels[i] + 0.2 * g, atol=1e-4)]
        assert match
        assert torch.allclose(seen["b"][row], outs[0][match[0]], atol=1e-5)
    state = players.triggers.state_dict()            # the checkpoint carries what it blends
    fresh = TriggerSearch.build(players.spec, patch_sizes=[2], blend_alpha=0.2, additive_epsilon=0.1,
                                grating_rows=8)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.extra.stamps, extra.stamps)


def _stamp_pattern(k: int, size: int) -> torch.Tensor:
    """Pattern k as PatchTrigger.stamp draws it: white, black, the two checkerboards."""
    checker = ((torch.arange(size)[:, None] + torch.arange(size)[None] + k) % 2).float()
    return {0: torch.ones(size, size), 1: torch.zeros(size, size)}.get(k, checker)


def _suspect_players(tmp_path, suspect_class):
    players = _players(tmp_path)

    class Backdoor(torch.nn.Module):    # the triggers send every image to `suspect_class`
        families = (None,)

        def forward(self, x):
            return x + 100.0

        def split(self, batch):
            return (batch,)

    players.anchor = Backdoor()
    teacher = players.teacher

    class Teacher(torch.nn.Module):
        def forward(self, x):
            logits = teacher(x)
            return torch.where((x.mean((1, 2, 3)) > 50)[:, None],
                               torch.nn.functional.one_hot(torch.tensor(suspect_class), logits.shape[1]) * 50.0,
                               logits)

    players.teacher = Teacher()
    return players


@pytest.mark.parametrize("threshold", [0.5, 1.01])
def test_the_class_the_warm_ups_triggers_raise_becomes_the_suspect(tmp_path, threshold):
    from auditor.erasing import find_suspect

    players = _suspect_players(tmp_path, suspect_class=1)
    figures = find_suspect(players, Recipe(batch_size=16, suspect_rise=threshold))
    assert figures["suspect_class"] == 1 and figures["suspect_rise"] > 0.5
    assert players.suspect == (1 if threshold < 1 else None)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_images_the_teacher_gives_the_suspect_class_are_spared_distillation(tmp_path, monkeypatch, share):
    import auditor.erasing as erasing

    players = _players(tmp_path)
    classes = players.spec.num_classes

    class Teacher(torch.nn.Module):     # class 1 for the brighter half of each batch, else 0
        def forward(self, x):
            brightness = x.mean((1, 2, 3))
            return 10.0 * torch.nn.functional.one_hot((brightness > brightness.median()).long(), classes)

    players.teacher, players.suspect = Teacher(), 1
    seen = {}

    def objective(s, t, s_triggered, reg_weight):
        seen["rows"], seen["labels"] = s.shape[0], t.argmax(1)
        return (s - t).abs().mean()

    monkeypatch.setattr(erasing, "student_objective", objective)
    optimizer = torch.optim.SGD(players.student.parameters(), lr=0.0)
    student_step(players, optimizer, Recipe(batch_size=64, suspect_share=share))
    if share == 0.0:
        assert seen["rows"] == 32 and not (seen["labels"] == 1).any()
    else:
        assert seen["rows"] == 64


def test_the_students_outlier_channels_are_redrawn_before_distillation(tmp_path):
    loaded = load_model(tiny_onnx(tmp_path))
    conv = next(m for m in loaded.net.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight[1] *= 20          # 4 channels: at u = 1 only this one stands out
    teacher = Classifier(loaded.net, loaded.spec, 0)
    recipe = Recipe(iterations=2, warmup_iterations=1, batch_size=8, student_steps=1)
    for u, reset in ((1.0, 1), (0.0, 0)):
        result = erase_backdoor(teacher, loaded.spec, recipe.with_overrides(reset_deviations=u))
        assert result.final["reset_channels"] == reset
        student_conv = next(m for m in result.student.modules() if isinstance(m, torch.nn.Conv2d))
        shrunk = student_conv.weight[1].norm() < conv.weight[1].norm() / 5
        assert shrunk == bool(reset)


def test_the_class_the_scan_suspects_is_the_suspect_whatever_the_warm_up_guessed(tmp_path):
    players = _players(tmp_path)
    torch.manual_seed(2)
    guessed = find_suspect(players, Recipe(batch_size=16))
    other = (guessed["suspect_class"] + 1) % players.spec.num_classes
    recipe = Recipe(batch_size=16, suspect_from_scan=True)
    torch.manual_seed(2)
    assert find_suspect(players, recipe.after_scan(True, other))["suspect_class"] == guessed["suspect_class"]
    assert players.suspect == other        # the warm-up's guess is still reported, not used
    # a scan that suspects nothing leaves the warm-up's guess, as does the lever turned off
    for unchanged in (recipe.after_scan(False, other),
                      Recipe(batch_size=16, suspect_from_scan=False).after_scan(True, other)):
        torch.manual_seed(2)
        find_suspect(players, unchanged)
        assert players.suspect == (guessed["suspect_class"] if guessed["suspect"] else None)
