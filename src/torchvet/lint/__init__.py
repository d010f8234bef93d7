"""``torchvet lint``: find and fix model-loading API misuse in code, notebooks and docs."""
