"""nn containers: Sequential (positional and named), ModuleList, ModuleDict."""
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_sequential_indexing_len_iter_append():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    seq.append(c)
    assert seq[2] is c and [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c] and list(head._modules) == ["1", "2"]
    x = mg.randn(4, 2)
    np.testing.assert_array_equal(seq(x).numpy(), c(b(a(x))).numpy())
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh) and len(seq) == 3


def test_sequential_from_ordered_dict_uses_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Sigmoid())]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.insert(0, nn.ReLU())
    assert isinstance(layers[0], nn.ReLU) and list(layers._modules) == ["0", "1", "2", "3"]
    del layers[0]
    assert len(layers) == 3 and isinstance(layers[0], nn.Linear)
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    with pytest.raises(NotImplementedError):
        layers(mg.zeros(2))
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(d) == ["enc", "dec"] and "enc" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    del d["enc"]
    assert list(d.keys()) == ["dec"]
