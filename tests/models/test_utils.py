"""seglab.models.utils: 0.x's add_prefix."""
from seglab.models.utils import add_prefix


def test_add_prefix_names_keys_like_the_segmentor():
    assert add_prefix({"loss_ce": 1, "acc_seg": 2}, "aux_0") == {"aux_0.loss_ce": 1, "aux_0.acc_seg": 2}
    assert add_prefix({}, "decode") == {}
