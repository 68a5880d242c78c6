"""Optimizers, gradient clipping, penalties and learning-rate schedules (PyTorch's names and numbers).

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(x), y) + optim.l2_penalty(model.parameters(), 1e-4)
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
        sched.step()

Each update rule is one backend kernel per parameter (``*_step`` in ``minigrad/backends``).
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler, MultiStepLR, ReduceLROnPlateau,
                           StepLR)
from .optimizer import Optimizer
from .regularization import l1_penalty, l2_penalty
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "clip_grad_norm_", "clip_grad_value_",
           "l1_penalty", "l2_penalty", "lr_scheduler", "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR",
           "CosineAnnealingLR", "LambdaLR", "ReduceLROnPlateau"]
