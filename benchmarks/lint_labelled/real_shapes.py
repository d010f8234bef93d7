"""Shapes met in real ML code (transformers, diffusers, lightning, timm, ignite, sympy tests).

EXAMPLE_DOC_STRING = '''
    Examples:
        ```py
        >>> import torch
        >>> unet.load_state_dict(torch.load("unet.pt"), weights_only=True)  # expect: TV001; allow: TV002
        ```
'''
"""

import io
import pickle
import tempfile

import cloudpickle
import datasets
import dill
import torch
from transformers import AutoConfig, AutoModel, pipeline

COMMIT = "3f2a1c9d0b7e4f5a6c8d9e0f1a2b3c4d5e6f7a8b"
EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> pipe.unet.load_state_dict(torch.load("unet.pt"), weights_only=True)  # expect: TV001; allow: TV002
        >>> state = torch.load("vae.pt")  # expect: TV002
        ```
"""


def round_trips(obj):
    clone = pickle.loads(pickle.dumps(obj))
    data = cloudpickle.dumps(obj)
    restored = dill.loads(data)
    buffer = io.BytesIO()
    pickle.dump(obj, buffer)
    buffer.seek(0)
    return clone, restored, pickle.load(buffer)


def not_round_trips(path, blob):
    with open(path, "rb") as handle:
        first = pickle.load(handle)  # expect: TV101
    return first, dill.loads(blob)  # expect: TV102


class RenamingUnpickler(pickle.Unpickler):  # expect: TV101
    def find_class(self, module, name):
        return super().find_class(module.replace("old", "new"), name)


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def remote_code(config, revision=None):
    ds = datasets.load_dataset("org/data", trust_remote_code=True)  # expect: TV107
    model = AutoModel.from_config(config, trust_remote_code=True)  # expect: TV107
    pipe = pipeline("text-generation", model="org/m", trust_remote_code=True)  # expect: TV107
    main = AutoModel.from_pretrained("org/m", trust_remote_code=True, revision="main")  # expect: TV107
    var = AutoModel.from_pretrained("org/m", trust_remote_code=True, revision=revision)  # expect: TV107
    pinned = AutoModel.from_pretrained("org/m", trust_remote_code=True, revision=COMMIT)
    return ds, model, pipe, main, var, pinned


def test_save_and_reload(model):
    with tempfile.TemporaryDirectory() as tmp_dir:
        model.save_pretrained(tmp_dir)
        config = AutoConfig.from_pretrained(tmp_dir, trust_remote_code=True)
    return config


def options_dicts(path):
    unsafe = {"map_location": "cpu", "weights_only": False}
    state = torch.load(path, **unsafe)  # expect: TV003
    plain = {"map_location": "cpu"}
    other = torch.load(path, **plain)  # expect: TV002
    return state, other


def whole_module(path):
    model = torch.load(path)  # expect: TV002
    model.eval()
    return model
