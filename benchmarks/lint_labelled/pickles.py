import pickle
import pickle as pkl
from pickle import loads

import cloudpickle
import dill
import joblib
import numpy as np
import pandas as pd
import torch
from transformers import AutoModel

data = pickle.load(open("a.pkl", "rb"))  # expect: TV101
data = pkl.loads(blob)  # expect: TV101
data = loads(blob)  # expect: TV101
blob = open("b.pkl", "rb").read()
data = dill.loads(blob)  # expect: TV102
data = cloudpickle.loads(blob)  # expect: TV102
clf = joblib.load("model.joblib")  # expect: TV103
joblib.dump(clf, "model.joblib")
df = pd.read_pickle("table.pkl")  # expect: TV104
df = pd.read_parquet("table.parquet")
arr = np.load("a.npz", allow_pickle=True)  # expect: TV105
arr = np.load("a.npz")
net = torch.hub.load("someone/models", "resnet", trust_repo=True)  # expect: TV106
net = torch.hub.load("./models", "resnet", source="local")
net = AutoModel.from_pretrained("org/model", trust_remote_code=True)  # expect: TV107
net = AutoModel.from_pretrained("org/model")
net = AutoModel.from_pretrained("org/model", use_safetensors=False)  # expect: TV108
