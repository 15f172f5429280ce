"""The golden tests work on small arrays: one BLAS / OpenMP thread each is fastest, and on a shared, busy CPU many
threads spin against each other (measured on the 2-core CI machine under load: the folder took 5x longer)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_native_thread():
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
