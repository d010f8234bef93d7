"""
Saving and loading a model's weights
====================================

A tutorial-style script in sphinx-gallery layout, written for torchvet's examples.
It deliberately repeats a mistake that an official PyTorch tutorial once shipped:
``weights_only=True`` handed to ``load_state_dict`` instead of ``torch.load``.
``torchvet check examples/`` reports it twice, in the comment block below and in the
code after it; ``torchvet lint --diff examples/`` shows the fix.
"""

import tempfile
from pathlib import Path

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.fc2 = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


######################################################################
# Save the weights
# ----------------
#
# Save the ``state_dict`` (a dictionary of tensors), not the whole module: a pickled
# module names its class, and loading it runs that class's code.

PATH = Path(tempfile.mkdtemp()) / "tiny.pt"
model = TinyNet()
torch.save(model.state_dict(), PATH)

######################################################################
# Load the weights
# ----------------
#
# Create the model again, then load the weights into it:
#
# .. code:: python
#
#    model = TinyNet()
#    model.load_state_dict(torch.load(PATH), weights_only=True)
#    model.eval()
#
# ``weights_only=True`` makes ``torch.load`` refuse anything but tensors and plain
# containers, which is what keeps a crafted checkpoint from running code.

model = TinyNet()
model.load_state_dict(torch.load(PATH), weights_only=True)
model.eval()
