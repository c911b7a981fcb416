import math

import pytest
import torch

from lib.bias import objectives as O

# sample 0: logits (ln 2, 0, 0) -> softmax (1/2, 1/4, 1/4), target 0
# sample 1: logits (0, 0, 0)    -> softmax (1/3, 1/3, 1/3), target 2
Z = torch.tensor([[math.log(2.0), 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
Y = torch.tensor([0, 2])
LN2, LN3 = math.log(2.0), math.log(3.0)

EXPECTED = {
    "sce": (LN2 + LN3) / 2,
    "nll": (LN2 + LN3) / 2,
    "bce": ((math.log(1.5) + 2 * LN2) / 3 + LN2) / 2,
    "l1": (1.0 + 4 / 3) / 2,
    "l2": 25 / 48,
    "sos": ((LN2 - 1) ** 2 / 3 + 1 / 3) / 2,
    "nll_raw": -(LN2 + 0.0) / 2,  # -fv_y: sample 0 fv_0 = ln 2, sample 1 fv_2 = 0
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hand_computed_values(name):
    assert O.get_objective(name)(Z, Y).item() == pytest.approx(EXPECTED[name], abs=1e-12)


def test_sos_alpha_beta():
    # sample 0: (1/3) * 2 * (ln2 - 3)^2 ; sample 1: (1/3) * 2 * (0 - 3)^2 = 6
    expected = ((2 * (LN2 - 3) ** 2) / 3 + 6) / 2
    assert O.sos(Z, Y, alpha=2.0, beta=3.0).item() == pytest.approx(expected, abs=1e-12)


def test_nll_equals_sce_including_gradient():
    z = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 10, (6,))
    (g1,) = torch.autograd.grad(O.sce(z, y), z)
    (g2,) = torch.autograd.grad(O.nll(z, y), z)
    assert torch.allclose(g1, g2)


def test_losses_against_plain_loops():
    torch.manual_seed(0)
    z = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 1, 2])
    l1 = l2 = bce = 0.0
    for i in range(5):
        p = torch.softmax(z[i], 0)
        for c in range(4):
            t = 1.0 if c == y[i] else 0.0
            l1 += abs(t - p[c].item())
            l2 += (t - p[c].item()) ** 2
            s = 1 / (1 + math.exp(-z[i, c].item()))
            bce -= t * math.log(s) + (1 - t) * math.log(1 - s)
    assert O.l1(z, y).item() == pytest.approx(l1 / 5)
    assert O.l2(z, y).item() == pytest.approx(l2 / 5)
    assert O.bce(z, y).item() == pytest.approx(bce / 20)


def test_perfect_prediction_minimises_margin_losses():
    y = torch.tensor([1, 0])
    onehot = torch.nn.functional.one_hot(y, 3).double()
    assert O.sos(onehot, y).item() == 0.0
    assert O.l2(onehot * 50, y).item() == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="objective must be one of"):
        O.get_objective("hinge")
    with pytest.raises(ValueError):
        O.l1(torch.zeros(3), torch.zeros(3, dtype=torch.long))
