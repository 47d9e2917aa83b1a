"""MMSegmentation 1.2.2 reference numbers (tests/fixtures/mmseg1x/reference-numbers-1x.json, ``heads``) through a
real decode head's ``losses()``, which 0.x loss classes already give them, and what seglab computes in
the two cases where 1.2.2 crashes (class-weighted CE with ignored pixels; OHEM with the 1.x Dice)."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seglab.models.losses import DiceLoss1x, parse_losses
from seglab.models.utils import add_prefix
from seglab.registry import MODELS

# Read at collection time (the cases parametrize the tests), so not through the fixtures_dir fixture.
REFERENCE = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "mmseg1x" / "reference-numbers-1x.json").read_text())
CASES = REFERENCE["heads"]
TOLERANCE = 1e-5
IGNORED_PIXELS = 20

# What the 1.x config translator does to loss types whose 1.x semantics differ from 0.x's (docs/dialects.md).
TYPES_1X = {"DiceLoss": "DiceLoss1x", "CrossEntropyLoss": "CrossEntropyLoss1x"}


def renamed(loss_decode, types):
    """``loss_decode`` (a dict or a list of dicts) with each ``type`` found in ``types`` replaced."""
    if isinstance(loss_decode, dict):
        return dict(loss_decode, type=types.get(loss_decode["type"], loss_decode["type"]))
    return [renamed(cfg, types) for cfg in loss_decode]


def make_inputs(name, ignore=True):
    """Exactly as the file's ``about`` says: logits, then labels from the same generator; the first 20
    pixels of image 0 set to 255 in every case but ``ce_class_weight`` (unless ``ignore`` is False)."""
    case = CASES[name]
    num_classes = case["num_classes"]
    torch.manual_seed(case["seed"])
    logits = torch.randn(2, num_classes, 12, 12) * 2
    labels = torch.randint(0, num_classes, (2, 12, 12))
    if ignore and name != "ce_class_weight":
        labels[0].view(-1)[:IGNORED_PIXELS] = 255
    return logits, labels.unsqueeze(1)


def build_head(name, types=TYPES_1X, **overrides):
    """The smallest real head (an FCNHead without convs: ``losses()`` is the code under test) with the
    case's ``loss_decode`` and ``sampler``, then ``overrides``; loss types renamed by ``types``."""
    case = CASES[name]
    num_classes = case["num_classes"]
    cfg = dict(type="FCNHead", in_channels=num_classes, channels=num_classes, num_convs=0, concat_input=False,
               num_classes=num_classes, **case["head"])
    cfg.update(overrides)
    cfg["loss_decode"] = renamed(cfg["loss_decode"], types)
    return MODELS.build(cfg)


def logged(head, logits, labels):
    """What 1.x logs: the head's losses with the ``decode.`` prefix, then ``parse_losses``' total as ``loss``."""
    _, log_vars = parse_losses(add_prefix(head.losses(logits, labels), "decode"))
    return {name: value.item() for name, value in log_vars.items()}


def assert_matches_reference(name, values):
    case = CASES[name]
    for key, expected in case["losses"].items():
        assert values[key] == pytest.approx(expected, rel=0, abs=TOLERANCE), key
    assert values["loss"] == pytest.approx(case["loss"], rel=0, abs=TOLERANCE), "loss"
    extra = {"decode.ohem_kept"} if "sampler" in case["head"] else set()
    assert set(values) == set(case["losses"]) | {"loss"} | extra  # ohem_kept: seglab's own log value


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_numbers_1x(name):
    assert_matches_reference(name, logged(build_head(name), *make_inputs(name)))


NO_CLASS_WEIGHT = sorted(n for n in CASES if n != "ce_class_weight")


@pytest.mark.parametrize("name", NO_CLASS_WEIGHT)
def test_0x_cross_entropy_and_ohem_already_give_the_1x_numbers(name):
    """Without class weights, 0.x's CrossEntropyLoss (mean over all pixels or, with avg_non_ignore, the
    non-ignored ones) and OHEMPixelSampler (thresh and top-k) are 1.x's: only DiceLoss needs its 1.x class."""
    head = build_head(name, types={"DiceLoss": "DiceLoss1x"})
    assert_matches_reference(name, logged(head, *make_inputs(name)))


def test_class_weighted_cross_entropy_differs_between_dialects():
    """1.x divides the class-weighted sum by sum(class_weight[y]) (PyTorch's weighted mean); 0.x, and
    seglab's CrossEntropyLoss, by the number of pixels."""
    logits, labels = make_inputs("ce_class_weight")
    class_weight = torch.tensor(CASES["ce_class_weight"]["head"]["loss_decode"]["class_weight"])
    weighted_sum = F.cross_entropy(logits, labels.squeeze(1), weight=class_weight, reduction="sum")
    value_0x = logged(build_head("ce_class_weight", types={}), logits, labels)["decode.loss_ce"]
    value_1x = logged(build_head("ce_class_weight"), logits, labels)["decode.loss_ce"]
    assert value_0x == pytest.approx((weighted_sum / labels.numel()).item(), rel=1e-6)
    assert value_1x == pytest.approx((weighted_sum / class_weight[labels].sum()).item(), rel=1e-6)
    assert value_1x == pytest.approx(CASES["ce_class_weight"]["loss"], rel=0, abs=TOLERANCE)
    assert abs(value_0x - value_1x) > 1.0


# ------------------------------------------------- (a) 1.2.2: IndexError (class_weight[255])
@pytest.mark.parametrize("avg_non_ignore", [False, True])
def test_class_weighted_ce_with_ignored_pixels(avg_non_ignore):
    """1.2.2 indexes class_weight with every label, 255 included, and fails. seglab gives an ignored pixel
    the weight it has in the unweighted mean: 0 in the sum of losses, 1 in the denominator (0 with
    avg_non_ignore). That keeps 1.x's weighted mean over the labelled pixels, keeps avg_non_ignore's meaning,
    and class weights of 1 give exactly the unweighted loss."""
    logits, labels = make_inputs("ce_class_weight", ignore=False)
    labels[0, 0].view(-1)[:IGNORED_PIXELS] = 255
    class_weight = [0.8, 1.5, 3.0]
    loss_cfg = dict(type="CrossEntropyLoss", class_weight=class_weight, avg_non_ignore=avg_non_ignore)
    value = logged(build_head("ce_class_weight", loss_decode=loss_cfg), logits, labels)["decode.loss_ce"]

    label = labels.squeeze(1)
    valid = label != 255
    weights = torch.tensor(class_weight)[torch.where(valid, label, 0)] * valid
    weighted_sum = (F.cross_entropy(logits, torch.where(valid, label, 0), reduction="none") * weights).sum()
    denominator = weights.sum() + (0 if avg_non_ignore else IGNORED_PIXELS)
    assert value == pytest.approx((weighted_sum / denominator).item(), rel=1e-6)

    ones = dict(loss_cfg, class_weight=[1.0, 1.0, 1.0])
    unweighted = dict(loss_cfg, class_weight=None)
    assert logged(build_head("ce_class_weight", loss_decode=ones), logits, labels)["decode.loss_ce"] == \
        pytest.approx(logged(build_head("ce_class_weight", loss_decode=unweighted), logits, labels)["decode.loss_ce"],
                      rel=1e-6)


def test_class_weighted_ce_with_ignored_pixels_by_hand():
    """2 pixels of class 0 and 1 (class weights 1 and 3) and one ignored; logits 0, so each labelled pixel
    costs ln 2: (1 + 3) ln 2 / (1 + 3 + 1), or / (1 + 3) with avg_non_ignore."""
    logits = torch.zeros(1, 2, 1, 3)
    label = torch.tensor([[[0, 1, 255]]])
    ln2 = torch.log(torch.tensor(2.0)).item()
    loss = MODELS.build(dict(type="CrossEntropyLoss1x", class_weight=[1.0, 3.0]))
    assert loss(logits, label).item() == pytest.approx(4 * ln2 / 5, rel=1e-6)
    loss = MODELS.build(dict(type="CrossEntropyLoss1x", class_weight=[1.0, 3.0], avg_non_ignore=True))
    assert loss(logits, label).item() == pytest.approx(ln2, rel=1e-6)


# ------------------------------------------------- (b) 1.2.2: AssertionError (weight.ndim == loss.ndim)
@pytest.mark.parametrize("thresh", [0.7, None])
def test_ohem_with_1x_dice(thresh):
    """1.2.2's Dice takes only a per-image weight (N,) and asserts on OHEM's pixel map (N,H,W). seglab does
    what 0.x does with its Dice: the map weights the pixel-wise losses (CE) and not the Dice, which is
    still computed over whole images (weighting pixels inside the ratio would make it the Dice of the hard
    pixels alone). Top-k OHEM ranks pixels by the CE alone: a per-image Dice changes no ranking."""
    name = "ce_dice_1x"
    logits, labels = make_inputs(name)
    sampler = dict(type="OHEMPixelSampler", thresh=thresh, min_kept=40)
    with_ohem = logged(build_head(name, sampler=sampler), logits, labels)
    without_ohem = logged(build_head(name), logits, labels)
    ce_only = logged(build_head(name, sampler=sampler, loss_decode=CASES[name]["head"]["loss_decode"][0]),
                     logits, labels)

    assert with_ohem["decode.loss_dice"] == pytest.approx(without_ohem["decode.loss_dice"], rel=1e-6)
    assert with_ohem["decode.loss_ce"] == pytest.approx(ce_only["decode.loss_ce"], rel=1e-6)
    assert with_ohem["decode.ohem_kept"] == pytest.approx(ce_only["decode.ohem_kept"], rel=1e-6)
    assert with_ohem["decode.ohem_kept"] < 1.0  # OHEM did drop pixels
    assert with_ohem["loss"] == pytest.approx(with_ohem["decode.loss_ce"] + with_ohem["decode.loss_dice"], rel=1e-6)


def test_ohem_dropped_pixels_get_the_dice_gradient_only():
    name = "ce_dice_1x"
    logits, labels = make_inputs(name)
    head = build_head(name, sampler=dict(type="OHEMPixelSampler", thresh=0.7, min_kept=40))
    kept = head.sampler.sample(logits, labels).bool()
    dropped = ~kept & (labels.squeeze(1) != 255)
    assert dropped.any()

    logits.requires_grad_(True)
    losses = head.losses(logits, labels)
    (ce_grad,) = torch.autograd.grad(losses["loss_ce"], logits, retain_graph=True)
    (dice_grad,) = torch.autograd.grad(losses["loss_dice"], logits)
    assert ce_grad.abs().sum(1)[dropped].max() == 0
    assert dice_grad.abs().sum(1)[dropped].min() > 0


def test_1x_dice_per_image_weight_is_applied():
    """1.x's own ``weight`` contract, one value per image, still works."""
    logits, labels = make_inputs("dice_softmax")
    loss = DiceLoss1x(use_sigmoid=False)
    per_image = loss(logits, labels.squeeze(1), reduction_override="none")
    weighted = loss(logits, labels.squeeze(1), weight=torch.tensor([1.0, 0.0]))
    assert weighted.item() == pytest.approx(per_image[0].item() / 2, rel=1e-6)
