"""Regenerate the small model files in examples/models/ (needs torch and numpy).

    python examples/make_models.py

* safe_state_dict.pt   a plain state_dict: torch.load(weights_only=True) loads it
* needs_allowlist.pt   a checkpoint with a numpy scalar and argparse.Namespace, the two
                       most common reasons torch >= 2.6 refuses a checkpoint
* whole_model.pt       torch.save(model): a pickled nn.Module (its class is code)
* poc_attack.pt        a harmless proof-of-concept attack: loading it with
                       weights_only=False creates the file `torchvet-poc-marker.txt`
                       in the current directory. Nothing else.

The files are written deterministically (fixed seed, fixed archive names) so that
regenerating them gives the same bytes with the same torch version.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUT = Path(__file__).resolve().parent / "models"


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.fc2 = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class MarkerPayload:
    """Pickles as a call to pathlib.Path.touch on a marker file: harmless but executed."""

    def __reduce__(self):
        return (Path.touch, (Path("torchvet-poc-marker.txt"),))


def save(obj: object, name: str) -> None:
    # Saving through a buffer keeps the archive prefix fixed ("archive/").
    buf = io.BytesIO()
    torch.save(obj, buf)
    (OUT / name).write_bytes(buf.getvalue())
    print(f"wrote examples/models/{name} ({len(buf.getvalue())} bytes)")


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(exist_ok=True)
    model = TinyNet()
    save(model.state_dict(), "safe_state_dict.pt")
    args = argparse.Namespace(lr=0.001, epochs=3, arch="tinynet")
    save(
        {"model": model.state_dict(), "args": args, "best_acc": np.float64(0.93)},
        "needs_allowlist.pt",
    )
    save(model, "whole_model.pt")
    save({"model": model.state_dict(), "config": MarkerPayload()}, "poc_attack.pt")


if __name__ == "__main__":
    main()
