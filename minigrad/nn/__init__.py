"""Neural-network building blocks: Module, Parameter, layers, losses, init, functional.

    from minigrad import nn
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""
from . import functional, init
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module
from .parameter import Parameter
from .state import IncompatibleKeys, StateDictError

__all__ = ["Module", "Parameter", "StateDictError", "IncompatibleKeys",
           "Linear", "Identity", "Flatten", "Embedding", "Dropout",
           "Sequential", "ModuleList", "ModuleDict",
           "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
           "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
           "init", "functional"]
