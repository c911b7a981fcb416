import pytest
import torch

from lib.bias.resnet import ResNet18, count_parameters


def hand_count(widths=(64, 128, 256, 512), in_ch=3, classes=10):
    """Parameters of the small-input ResNet18 from the architecture, layer by layer."""
    conv = lambda a, b, k: a * b * k * k  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(in_ch, widths[0], 3) + bn(widths[0])
    c_in = widths[0]
    for c in widths:
        for _ in range(2):
            total += conv(c_in, c, 3) + bn(c) + conv(c, c, 3) + bn(c)
            if c_in != c:  # first block of stages 2-4: 1x1 projection shortcut
                total += conv(c_in, c, 1) + bn(c)
            c_in = c
    return total + widths[-1] * classes + classes


def test_full_width_parameter_count():
    assert hand_count() == 11_173_962
    assert count_parameters(ResNet18(num_classes=10)) == 11_173_962


def test_narrow_and_two_class_counts():
    assert count_parameters(ResNet18(num_classes=2, width=0.25)) == hand_count((16, 32, 64, 128), classes=2)


def test_forward_shapes_and_leaf_modules():
    model = ResNet18(num_classes=7, width=0.125).eval()
    out = model(torch.randn(5, 3, 28, 28))
    assert out.shape == (5, 7)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 17 and all(not r.inplace for r in relus)
    assert model.dropout.p == 0.4


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = ResNet18(width=0.125, dropout=0.4).eval()
    x = torch.randn(3, 3, 28, 28)
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"dropout": 1.0}, {"dropout": -0.1}])
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        ResNet18(**kwargs)
