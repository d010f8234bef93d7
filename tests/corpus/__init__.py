"""Generated test corpus of model files and the real-torch oracle that judges them."""
