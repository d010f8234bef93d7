"""Model files where they live: http(s), the Hugging Face Hub, object stores (fsspec).

Everything here ends in a ``ByteSource`` (``RangeSource``) handed to the scanner, so a
remote checkpoint is judged by the same code as a local one, for the price of the
ranges the scanner reads. ``urls`` is cheap to import; the backends (urllib3,
huggingface_hub, fsspec) are imported only when a URL needs them, and a missing one
is reported with the extra that brings it (``torchvet[remote]``).
"""
