"""Classes that benign corpus files pickle by reference.

Kept in their own light module so the oracle subprocess can import them to allowlist
them without importing the generators.
"""

from __future__ import annotations

import enum
from collections import namedtuple
from dataclasses import dataclass, field

import torch

Pair = namedtuple("Pair", ["first", "second"])


@dataclass
class TrainConfig:
    lr: float = 1e-3
    epochs: int = 3
    tags: list[str] = field(default_factory=lambda: ["corpus"])


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class TaggedTensor(torch.Tensor):
    """A trivial tensor subclass: pickled through _rebuild_from_type_v2 with its class."""


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TiedNet(torch.nn.Module):
    """Embedding and output projection share one weight (HF-style tied weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(6, 4)
        self.head = torch.nn.Linear(4, 6, bias=False)
        self.head.weight = self.embed.weight


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.bn = torch.nn.BatchNorm2d(3)
