import argparse
import pickle

import torch
import torch as T
from torch import load as tl
from torch.serialization import add_safe_globals

PATH = "model.pt"
UNSAFE = False
model = torch.nn.Linear(2, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

model.load_state_dict(torch.load(PATH), weights_only=True)  # expect: TV001; allow: TV002
optimizer.load_state_dict(torch.load(PATH, weights_only=True), map_location="cpu")  # expect: TV001
model.load_state_dict(torch.load(PATH, weights_only=True))
model.load_state_dict(state_dict, strict=False)

state = torch.load(PATH)  # expect: TV002
state = T.load(PATH, map_location="cpu")  # expect: TV002
state = tl(PATH)  # expect: TV002
state = torch.serialization.load(PATH)  # expect: TV002
state = torch.load(PATH, weights_only=True)
state = torch.load(PATH, **load_options)
state = torch.jit.load(PATH)

state = torch.load(PATH, weights_only=False)  # expect: TV003
state = torch.load(PATH, weights_only=UNSAFE)  # expect: TV003
state = torch.load(PATH, weight_only=True)  # expect: TV004; allow: TV002
state = torch.load(PATH, map_locaton="cpu", weights_only=True)  # expect: TV004
state = torch.load(PATH, pickle_module=pickle)  # expect: TV005; allow: TV002
state = torch.load(PATH, pickle_module=pickle, weights_only=True)  # expect: TV005

add_safe_globals([argparse.Namespace])
add_safe_globals([getattr])  # expect: TV007
torch.save(state, PATH)
torch.save(state, PATH, pickle_protocol=4)  # expect: TV008
state = torch.load(PATH, weights_only=True),  # expect: TV009
pair = (torch.load(PATH, weights_only=True),)


def load_with_fallback(path):
    try:
        return torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        return torch.load(path, weights_only=False)  # expect: TV003, TV006


def shadowed(torch):
    return torch.load(PATH)
