"""Networks: shapes, the embed/classify split, and where ResNet weights come from."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from models.networks import (
    ARCHITECTURES,
    LATEST_SMALL_CNN_REVISION,
    PretrainedWeightsWarning,
    build_network,
    default_input_size,
    imagenet_cache_path,
)


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """Point torch hub at an empty folder and make any download fail loudly."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path / "hub"


@pytest.mark.parametrize("arch,size,dim", [("small_cnn", 32, 512), ("resnet18", 64, 512)])
def test_forward_embed_and_classify_agree(arch, size, dim, empty_hub):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PretrainedWeightsWarning)
        model = build_network(arch, 7, size).eval()
    x = torch.randn(3, 3, size, size)
    with torch.no_grad():
        logits = model(x)
        embedding = model.embed(x)
        logits2, embedding2 = model.forward_with_embedding(x)
    assert logits.shape == (3, 7)
    assert embedding.shape == (3, dim) == embedding2.shape
    assert torch.allclose(logits, logits2)
    assert torch.allclose(logits, model.classify(embedding))
    assert isinstance(model.dropout, nn.Dropout)


def test_every_dropout_sits_in_the_head(empty_hub):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PretrainedWeightsWarning)
        for arch in ARCHITECTURES:
            model = build_network(arch, 3, 64)
            names = [n for n, m in model.named_modules() if isinstance(m, nn.Dropout)]
            assert names == ["dropout"], arch


def test_small_cnn_accepts_other_sizes():
    model = build_network("small_cnn", 4, 16).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 4)
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 4)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_network("vgg", 3, 32)
    with pytest.raises(ValueError, match="num_classes"):
        build_network("small_cnn", 0, 32)
    with pytest.raises(ValueError, match="input_size"):
        build_network("small_cnn", 3, 8)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        build_network("resnet18", 3, 64, weights="nope.pth")


def test_resnet18_loads_a_local_weights_file(tmp_path, empty_hub):
    torch.manual_seed(1)
    reference = resnet18(num_classes=1000).state_dict()  # ImageNet-shaped, random values
    path = tmp_path / "imagenet.pth"
    torch.save(reference, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no random-init warning may appear
        model = build_network("resnet18", 5, 64, weights=path)
    state = model.state_dict()
    assert torch.equal(state["conv1.weight"], reference["conv1.weight"])
    assert torch.equal(state["layer4.1.bn2.running_var"], reference["layer4.1.bn2.running_var"])
    assert state["fc.weight"].shape == (5, 512)
    assert model.weights_source == f"file:{path}"


def test_resnet18_refuses_a_file_of_another_network(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(build_network("small_cnn", 3, 32).state_dict(), path)
    with pytest.raises(ValueError, match="does not match"):
        build_network("resnet18", 3, 64, weights=path)


def test_resnet18_without_weights_warns_and_downloads_nothing(empty_hub):
    with pytest.warns(PretrainedWeightsWarning, match="random"):
        model = build_network("resnet18", 3, 64)
    assert model.weights_source == "random"
    assert not empty_hub.exists() or not any(empty_hub.rglob("*"))


def test_resnet18_uses_torchvision_file_already_in_the_hub_cache(empty_hub):
    torch.manual_seed(2)
    reference = resnet18(num_classes=1000).state_dict()
    cached = imagenet_cache_path()
    assert cached.parent == empty_hub / "checkpoints"
    cached.parent.mkdir(parents=True)
    torch.save(reference, cached)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_network("resnet18", 3, 64)
    assert torch.equal(model.state_dict()["conv1.weight"], reference["conv1.weight"])
    assert model.weights_source == f"torch-hub-cache:{cached}"


def test_pretrained_false_skips_the_search_silently(empty_hub):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_network("resnet18", 3, 64, pretrained=False)
    assert model.weights_source == "random"


@pytest.mark.parametrize(
    "sizes,arch,expected",
    [
        ([(32, 32)] * 5, "small_cnn", 32),
        ([(8, 8), (8, 8), (10, 12)], "small_cnn", 16),  # clamped up
        ([(500, 300)] * 3, "small_cnn", 64),  # clamped down
        ([(27, 29), (27, 29)], "small_cnn", 32),  # median 28 rounds to 32
        ([(500, 300)] * 3, "resnet18", 224),
        ([(100, 100)], "resnet18", 104),
        ([(10, 10)], "resnet18", 64),
        ([], "small_cnn", 32),
        ([], "resnet18", 128),
    ],
)
def test_default_input_size(sizes, arch, expected):
    size = default_input_size(sizes, arch)
    assert size == expected
    assert size % 8 == 0


def test_default_input_size_accepts_a_generator():
    assert default_input_size(((s, s) for s in (40, 40, 41)), "small_cnn") == 40


def test_small_cnn_revisions_load_their_own_checkpoints():
    """Revision 2 standardises each image and pools on a 2x2 grid; revision 1 (every
    version trained before revisions were recorded) keeps its 128-d global pooling."""
    old = build_network("small_cnn", 4, 32, revision=1)
    new = build_network("small_cnn", 4, 32)
    assert (old.embedding_dim, new.embedding_dim) == (128, 512)
    assert new.revision == LATEST_SMALL_CNN_REVISION == 2
    build_network("small_cnn", 4, 32, revision=1).load_state_dict(old.state_dict())
    with pytest.raises(RuntimeError, match="size mismatch"):
        new.load_state_dict(old.state_dict())
    with pytest.raises(ValueError, match="revision 9"):
        build_network("small_cnn", 4, 32, revision=9)


def test_revision_2_ignores_the_brightness_and_contrast_of_an_image():
    torch.manual_seed(0)
    model = build_network("small_cnn", 3, 32).eval()
    x = 10 * torch.randn(2, 3, 32, 32)  # contrast far above the standardisation's floor
    with torch.no_grad():
        same = model.embed(x)
        brighter = model.embed(0.5 * x + 2.0)
    torch.testing.assert_close(same, brighter, atol=2e-3, rtol=2e-2)
