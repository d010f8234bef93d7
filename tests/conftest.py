from tests.corpus.fixtures import corpus  # noqa: F401  (session fixture for all tests)
