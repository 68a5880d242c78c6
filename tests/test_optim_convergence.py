"""Every optimizer minimises an ill-conditioned quadratic, through real forward/backward passes."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

TARGET = np.array([1.0, -2.0, 0.5], dtype=np.float32)
CURVATURE = np.array([1.0, 10.0, 0.3], dtype=np.float32)  # condition number ~33


def loss_of(w):
    d = w - mg.tensor(TARGET)
    return (d * d * mg.tensor(0.5 * CURVATURE)).sum()


CASES = [(optim.SGD, dict(lr=0.09), 400), (optim.SGD, dict(lr=0.05, momentum=0.9), 300),
         (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), 300), (optim.Adam, dict(lr=0.05), 800),
         (optim.AdamW, dict(lr=0.05, weight_decay=0.0), 800), (optim.Adam, dict(lr=0.05, amsgrad=True), 800),
         (optim.RMSprop, dict(lr=0.01), 800), (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5), 800),
         (optim.Adagrad, dict(lr=0.5), 800)]


@pytest.mark.parametrize("cls,kw,n", CASES, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_converges_on_quadratic(cls, kw, n, backend):
    w = mg.zeros(3, requires_grad=True)
    opt = cls([w], **kw)
    start = loss_of(w).item()
    for _ in range(n):
        opt.zero_grad()
        loss_of(w).backward()
        opt.step()
    assert loss_of(w).item() < 1e-4 * start
    np.testing.assert_allclose(w.numpy(), TARGET, atol=2e-2)


def test_maximize_climbs():
    w = mg.zeros(3, requires_grad=True)
    opt = optim.Adam([w], lr=0.1, maximize=True)
    for _ in range(20):
        opt.zero_grad()
        loss_of(w).backward()
        opt.step()
    assert loss_of(w).item() > 2 * loss_of(mg.zeros(3)).item()
