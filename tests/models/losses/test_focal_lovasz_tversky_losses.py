"""FocalLoss, LovaszLoss and TverskyLoss against hand values and straightforward per-element
reference formulas (plain Python loops over tiny inputs), with ignored pixels."""
import math

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.losses import FocalLoss, LovaszLoss, TverskyLoss

LN2 = math.log(2)


def random_case(seed, n=2, c=3, h=3, w=4):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g) * 2
    label = torch.randint(0, c, (n, h, w), generator=g)
    label[torch.rand(n, h, w, generator=g) < 0.25] = 255
    return logits, label


# ----------------------------------------------------------------------------------------- focal
def focal_reference(logits, label, gamma=2.0, alpha=0.5, class_weight=None, weight=None, ignore=255):
    n_, c_, h_, w_ = logits.shape
    total = 0.0
    for n in range(n_):
        for h in range(h_):
            for w in range(w_):
                y = int(label[n, h, w])
                if y == ignore:
                    continue
                for c in range(c_):
                    t = 1.0 if y == c else 0.0
                    p = 1 / (1 + math.exp(-float(logits[n, c, h, w])))
                    bce = -(t * math.log(p) + (1 - t) * math.log(1 - p))
                    pt = p if t else 1 - p
                    a = alpha if t else 1 - alpha
                    value = bce * a * (1 - pt) ** gamma
                    value *= class_weight[c] if class_weight else 1.0
                    value *= float(weight[n, h, w]) if weight is not None else 1.0
                    total += value
    return total / logits.numel()          # 0.x: mean over all pixels x classes


def test_focal_by_hand():
    # Two pixels, the second ignored; x = 0 everywhere so p = 1/2 and each of the 2 channels of the
    # valid pixel gives ln2 * alpha(=1/2) * (1/2)**2 = ln2/8. Mean over 2 pixels x 2 classes.
    logits = torch.zeros(1, 2, 1, 2)
    label = torch.tensor([[[0, 255]]])
    assert FocalLoss()(logits, label).item() == pytest.approx(2 * (LN2 / 8) / 4, rel=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 1.0, "alpha": 0.25}, {"class_weight": [1.0, 2.0, 0.5]}])
def test_focal_matches_reference(kwargs):
    logits, label = random_case(0)
    expected = focal_reference(logits, label, **kwargs)
    assert FocalLoss(**kwargs)(logits, label).item() == pytest.approx(expected, rel=1e-5)


def test_focal_elementwise_weight_alpha_list_and_shapes():
    logits, label = random_case(1)
    weight = (torch.rand(label.shape, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    expected = focal_reference(logits, label, weight=weight)
    assert FocalLoss()(logits, label, weight=weight).item() == pytest.approx(expected, rel=1e-5)
    assert FocalLoss()(logits, label, reduction_override="none").shape == logits.shape
    # alpha per class equal to a constant is the constant
    torch.testing.assert_close(FocalLoss(alpha=[0.3, 0.3, 0.3])(logits, label), FocalLoss(alpha=0.3)(logits, label))
    with pytest.raises(ConfigError, match="use_sigmoid=True"):
        FocalLoss(use_sigmoid=False)


# ---------------------------------------------------------------------------------------- lovasz
def lovasz_from_sets(errors, fg):
    """Lovasz extension of the Jaccard loss, from its definition: errors sorted descending, the
    increments of Delta(S) = |S| / |gt U S| as the top-i set S grows."""
    gt = {i for i, f in enumerate(fg) if f}
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    chosen, previous, total = set(), 0.0, 0.0
    for i in order:
        chosen.add(i)
        delta = len(chosen) / len(gt | chosen)
        total += errors[i] * (delta - previous)
        previous = delta
    return total


def lovasz_softmax_reference(logits, label, classes="present", class_weight=None, ignore=255):
    probs = torch.softmax(logits, 1)
    pixels = [(n, h, w) for n in range(label.shape[0]) for h in range(label.shape[1])
              for w in range(label.shape[2]) if int(label[n, h, w]) != ignore]
    losses = []
    for c in range(logits.shape[1]) if classes in ("all", "present") else classes:
        fg = [int(label[p]) == c for p in pixels]
        if classes == "present" and not any(fg):
            continue
        errors = [abs(float(f) - float(probs[p[0], c, p[1], p[2]])) for f, p in zip(fg, pixels)]
        losses.append(lovasz_from_sets(errors, fg) * (class_weight[c] if class_weight else 1.0))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("classes", ["present", "all", [0, 2]])
def test_lovasz_softmax_matches_reference(classes):
    logits, label = random_case(2)
    expected = lovasz_softmax_reference(logits, label, classes)
    assert LovaszLoss(classes=classes)(logits, label).item() == pytest.approx(expected, rel=1e-5)


def test_lovasz_softmax_per_image_and_class_weight():
    logits, label = random_case(3)
    cw = [0.5, 1.0, 2.0]
    per_image = [lovasz_softmax_reference(logits[i:i + 1], label[i:i + 1], class_weight=cw) for i in range(2)]
    loss = LovaszLoss(per_image=True, class_weight=cw)
    assert loss(logits, label).item() == pytest.approx(sum(per_image) / 2, rel=1e-5)
    assert loss(logits, label, reduction_override="none").tolist() == pytest.approx(per_image, rel=1e-5)


def test_lovasz_hinge_by_hand_and_reference():
    # labels [1, 0], logits 0: errors 1 - 0 = [1, 1]; Delta grows 1 -> 1 or 1/2 -> 1: loss 1 either way.
    assert LovaszLoss(loss_type="binary")(torch.zeros(1, 1, 1, 2), torch.tensor([[[1, 0]]])).item() == \
        pytest.approx(1.0)
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 1, 3, 3, generator=g)
    label = torch.randint(0, 2, (2, 3, 3), generator=g)
    label[0, 0, 0] = label[1, 2, 1] = 255
    valid = [(n, h, w) for n in range(2) for h in range(3) for w in range(3) if int(label[n, h, w]) != 255]
    fg = [int(label[p]) == 1 for p in valid]
    errors = [max(0.0, 1 - float(logits[p[0], 0, p[1], p[2]]) * (1 if f else -1)) for f, p in zip(fg, valid)]
    expected = lovasz_from_sets(errors, fg)
    assert LovaszLoss(loss_type="binary")(logits, label).item() == pytest.approx(expected, rel=1e-5)


def test_lovasz_ignored_pixels_and_errors():
    logits, label = random_case(5)
    all_ignored = torch.full_like(label, 255)
    assert LovaszLoss()(logits, all_ignored).item() == 0.0
    # changing the logits of ignored pixels changes nothing
    mask = (label == 255).unsqueeze(1).expand_as(logits)
    changed = torch.where(mask, logits + 10.0, logits)
    torch.testing.assert_close(LovaszLoss()(changed, label), LovaszLoss()(logits, label))
    with pytest.raises(ConfigError, match="loss_type"):
        LovaszLoss(loss_type="softmax")
    with pytest.raises(ConfigError, match="classes"):
        LovaszLoss(classes="some")
    with pytest.raises(ConfigError, match="binary"):
        LovaszLoss()(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


# --------------------------------------------------------------------------------------- tversky
def tversky_reference(logits, label, alpha=0.3, beta=0.7, gamma=1.0, smooth=1.0, class_weight=None, ignore=255):
    probs = torch.softmax(logits, 1)
    n_, c_ = logits.shape[:2]
    per_image = []
    for n in range(n_):
        total = 0.0
        for c in range(c_):
            tp = fp = fn = 0.0
            for h in range(label.shape[1]):
                for w in range(label.shape[2]):
                    y = int(label[n, h, w])
                    if y == ignore:
                        continue
                    p, t = float(probs[n, c, h, w]), float(y == c)
                    tp, fp, fn = tp + p * t, fp + p * (1 - t), fn + (1 - p) * t
            value = (1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)) ** gamma
            total += value * (class_weight[c] if class_weight else 1.0)
        per_image.append(total / c_)
    return sum(per_image) / n_


def test_tversky_by_hand():
    # p = 1/2, labels [[0, 1], [1, 255]] (the ignored pixel is left out of TP, FP and FN):
    # class 0: TP 1/2, FP 1, FN 1/2 -> T = 1.5 / (0.5 + 0.3 + 0.35 + 1) = 1.5/2.15
    # class 1: TP 1, FP 1/2, FN 1   -> T = 2 / (1 + 0.15 + 0.7 + 1) = 2/2.85
    loss = TverskyLoss()(torch.zeros(1, 2, 2, 2), torch.tensor([[[0, 1], [1, 255]]]))
    assert loss.item() == pytest.approx(((1 - 1.5 / 2.15) + (1 - 2 / 2.85)) / 2, rel=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.5, "beta": 0.5, "gamma": 2.0}, {"class_weight": [1.0, 0.5, 2.0]}])
def test_tversky_matches_reference(kwargs):
    logits, label = random_case(6)
    assert TverskyLoss(**kwargs)(logits, label).item() == pytest.approx(tversky_reference(logits, label, **kwargs),
                                                                        rel=1e-5)


def test_tversky_config_errors():
    with pytest.raises(ConfigError, match="alpha \\+ beta"):
        TverskyLoss(alpha=0.5, beta=0.6)
    with pytest.raises(ConfigError, match="gamma"):
        TverskyLoss(gamma=0.5)
