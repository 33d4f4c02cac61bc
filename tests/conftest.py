import warnings

import pytest

warnings.filterwarnings("ignore", module="pymatgen")
warnings.filterwarnings("ignore", module="matminer")


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """A model cache private to this test session (nothing from earlier runs is reused)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def default_grid():
    from screening import candidate_grid

    return candidate_grid()


@pytest.fixture(scope="session")
def prior(cache):
    from screening import load_or_train_prior

    return load_or_train_prior(cache=cache, progress=False)
