"""Modules pickled by reference in the convert tests (importable by the oracle process)."""

from __future__ import annotations

import torch


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)
        self.register_buffer("scratch", torch.ones(2), persistent=False)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bn(self.conv(x)).mean((2, 3)))


class Tied(torch.nn.Module):
    """Weights a torch.export archive stores once: an embedding tied to the output."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, 3)
        self.out = torch.nn.Linear(3, 5, bias=False)
        self.out.weight = self.emb.weight
        self.norm = torch.nn.LayerNorm(3).to(torch.bfloat16)
        self.register_buffer("table", torch.arange(6, dtype=torch.int16).view(2, 3).t())
        self.register_buffer("mask", torch.tensor([True, False, True]), persistent=False)
        self.scale = torch.tensor(2.5)  # a plain tensor attribute: a lifted constant

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.emb(idx).to(torch.bfloat16)).float() * self.scale
        return self.out(h * self.mask) + self.table.float().sum()
