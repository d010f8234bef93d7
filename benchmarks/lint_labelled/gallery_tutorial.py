"""
Saving and loading
==================
"""

import torch

######################################################################
# **Load:**
#
# .. code:: python
#
#    model = TheModelClass(*args, **kwargs)
#    model.load_state_dict(torch.load(PATH), weights_only=True)  # expect: TV001; allow: TV002
#    model.eval()
#

model = torch.nn.Linear(1, 1)
