"""scratchnet: deep learning from scratch in NumPy, columns are samples."""
from .layers import ResidualLayer, StandardLayer
from .loss import SoftmaxRegression
from .network import Network, make_network
from .optim import SGD, Adam, Cosine, Constant, Momentum, StepDecay, make_optimizer, make_schedule
from .train import History, TrainingDiverged, train

__version__ = "0.1.0"

__all__ = [
    "Adam", "Constant", "Cosine", "History", "Momentum", "Network", "ResidualLayer", "SGD",
    "SoftmaxRegression", "StandardLayer", "StepDecay", "TrainingDiverged", "make_network",
    "make_optimizer", "make_schedule", "train",
]
