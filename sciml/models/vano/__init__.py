"""VANO, variational autoencoding neural operators: see ``sciml.models.vano.model`` for the model and loss.

``encoders`` holds the discretization-agnostic operator encoder and the fixed-grid CNN encoder, ``decoders``
the pointwise linear (learned Karhunen-Loeve), concat and split decoders.
"""

from sciml.models.vano.decoders import ConcatDecoder, LinearDecoder, SplitDecoder
from sciml.models.vano.encoders import CNNEncoder, OperatorEncoder
from sciml.models.vano.model import VANO, gaussian_kl

__all__ = ["VANO", "gaussian_kl", "OperatorEncoder", "CNNEncoder", "LinearDecoder", "ConcatDecoder", "SplitDecoder"]
