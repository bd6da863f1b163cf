"""LeNet-5 (section "Convolutional Neural Networks (LeNet)"), written once: two convolution blocks
of sigmoid and average pooling, then three fully connected layers, on 1x28x28 images."""

from __future__ import annotations

from ..base import init
from ..base.layers import Flatten, Linear, Sequential, Sigmoid
from ..base.module import Layer
from ..registry import public
from ..train.module import Classifier
from .layers import AvgPool2D, Conv2D


@public
def init_cnn(layer: Layer) -> None:
    """Xavier-uniform weights for convolution and linear layers (the book's ``init_cnn``); biases stay."""
    if isinstance(layer, (Conv2D, Linear)) and layer.weight is not None:
        layer.weight = init.xavier_uniform(tuple(layer.weight.shape))


@public
class LeNet(Classifier):
    """LeCun et al.'s LeNet-5 as the book trains it: sigmoid activations, average pooling, lazy
    input sizes (``apply_init`` or the first batch sets them)."""

    def __init__(self, lr: float = 0.1, num_classes: int = 10) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = Sequential(
            Conv2D(kernel_size=5, padding=2, out_channels=6), Sigmoid(),
            AvgPool2D(kernel_size=2, stride=2),
            Conv2D(kernel_size=5, out_channels=16), Sigmoid(),
            AvgPool2D(kernel_size=2, stride=2),
            Flatten(), Linear(120), Sigmoid(), Linear(84), Sigmoid(), Linear(num_classes))
