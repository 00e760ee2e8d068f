import torch
from torch import nn

from auditor.channel_reset import lipschitz_outliers, reset_outlier_channels


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3, groups=16), nn.ReLU(),
                         nn.Conv2d(16, 1, 1))


def test_a_channel_with_outlying_gain_is_found_and_others_are_not():
    conv = _net()[0]
    assert not lipschitz_outliers(conv, 3.0).any()
    with torch.no_grad():
        conv.weight[5] *= 20
    assert lipschitz_outliers(conv, 3.0).nonzero().flatten().tolist() == [5]


def test_the_bound_is_the_spectral_norm_of_the_channels_weights():
    conv = _net()[0]
    u = 0.5
    bounds = torch.stack([torch.linalg.svdvals(w.reshape(3, -1))[0] for w in conv.weight.detach()])
    assert torch.equal(lipschitz_outliers(conv, u), bounds > bounds.mean() + u * bounds.std())


def test_outlier_channels_are_redrawn_at_their_layers_scale_and_the_rest_kept():
    net = _net()
    with torch.no_grad():
        net[0].weight[2] *= 20
        net[2].weight[7] *= 20
    before = [p.clone() for p in net.parameters()]
    assert reset_outlier_channels(net, 3.0) == 2
    for index, (conv, channel) in enumerate(((net[0], 2), (net[2], 7))):
        w, w0 = conv.weight, before[2 * index]
        kept = torch.arange(len(w)) != channel
        assert torch.equal(w[kept], w0[kept])                          # the others untouched
        assert not torch.equal(w[channel], w0[channel])
        assert w[channel].norm() < w0[channel].norm() / 5              # no longer an outlier
        assert 0.2 < w[channel].std() / w0[kept].std() < 5             # at the layer's scale
        assert conv.bias[channel] == before[2 * index + 1][kept].mean()
    assert not lipschitz_outliers(net[0], 3.0).any()
    assert torch.equal(net[4].weight, before[4])                       # one output channel: never reset


def test_a_net_without_outliers_is_untouched_and_draws_no_random_numbers():
    net = _net()
    before = [p.clone() for p in net.parameters()]
    state = torch.get_rng_state()
    assert reset_outlier_channels(net, 3.0) == 0
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
