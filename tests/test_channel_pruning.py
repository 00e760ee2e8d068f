import torch
from torch import nn

from auditor.channel_pruning import ChannelMask, lipschitz_outliers


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


def test_masked_channels_stay_zero_through_training_and_the_rest_learn():
    net = _net()
    with torch.no_grad():
        net[0].weight[2] *= 20
        net[2].weight[7] *= 20
    before = [p.clone() for p in net.parameters()]
    mask = ChannelMask(net, 3.0)
    assert mask.pruned == 2
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    for _ in range(3):
        optimizer.zero_grad()
        net(torch.randn(4, 3, 9, 9)).square().mean().backward()
        optimizer.step()
        mask.apply()
    for conv, channel in ((net[0], 2), (net[2], 7)):
        assert conv.weight[channel].abs().max() == 0 and conv.bias[channel] == 0
    assert not torch.equal(before[0][3], net[0].weight[3])          # a kept channel moved
    assert net[4].weight.abs().min() > 0                              # one output channel: never pruned
