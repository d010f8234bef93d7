import os

# Scanner bugs must surface as test failures, not as fail-closed "malformed" verdicts.
os.environ["TORCHVET_DEBUG"] = "1"

from tests.corpus.fixtures import corpus  # noqa: F401  (session fixture for all tests)
from tests.support.remote import server  # noqa: F401  (loopback HTTP server, on first use)
