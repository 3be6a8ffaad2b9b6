"""Two builds of one kernel in one process: each keeps its own module, ops
and static state (unique ids, RTLD_LOCAL, -fno-gnu-unique)."""
import sys
import warnings

import torch

import kernels


def load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # builds of a dirty kb tree warn
        return kernels.get_local_kernel(path)


def test_two_relu_builds_load_side_by_side(kernel_builds):
    a = load(kernel_builds["relu_a"])
    b = load(kernel_builds["relu_b"])
    assert (a.__name__, b.__name__) == ("_relu_cpu_kbtesta", "_relu_cpu_kbtestb")
    assert sys.modules["_relu_cpu_kbtesta"] is a and sys.modules["_relu_cpu_kbtestb"] is b
    assert a.ops is torch.ops._relu_cpu_kbtesta and b.ops is torch.ops._relu_cpu_kbtestb
    x = torch.tensor([-1.0, 0.0, 2.5])
    assert torch.equal(a.relu(x), torch.relu(x)) and torch.equal(b.relu(x), torch.relu(x))
    ids = {k.metadata.id for k in kernels.get_loaded_kernels()}
    assert {"_relu_cpu_kbtesta", "_relu_cpu_kbtestb"} <= ids


def test_each_build_keeps_its_own_static_state(kernel_builds):
    a = load(kernel_builds["counter_a"])
    b = load(kernel_builds["counter_b"])
    assert a is not b
    first_a = a.count()
    assert [a.count(), a.count()] == [first_a + 1, first_a + 2]
    first_b = b.count()
    # b's counter did not see a's three increments (with shared GNU-unique
    # statics it would continue from first_a + 3).
    assert first_b == 1
    assert a.count() == first_a + 3 and b.count() == 2
