"""Red-team suite for issue 8: crafted files, the real loaders that run them, torchvet's verdicts."""
