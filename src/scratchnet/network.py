"""An L-layer network: hidden layers x^(l+1) = f(theta^(l), x^(l)) and the softmax head.

All parameters live in one flat vector ``theta`` and all gradients in one flat vector
``grad``; each layer's ``params`` and ``grads`` entries are views into them. So the gradient
test sees one vector, an optimizer can update everything in one operation, and ``backward``
writes every gradient in place.

The network computes in one ``dtype``, float64 by default (every gradient and Jacobian test is
in float64), or float32 for training, which halves the memory traffic and runs the element-wise
work in wider SIMD lanes. Inputs are cast to it on the way in.
"""
import numpy as np

from .layers import ResidualLayer, StandardLayer, buffer
from .loss import SoftmaxRegression


class Network:
    """Hidden ``layers`` (a list, possibly empty) followed by a softmax ``head``.

    The objective is the mean cross-entropy of the head, plus, when ``weight_decay`` is
    positive, ``weight_decay / 2 * sum ||W||_F^2`` over every weight matrix (not biases).
    """

    def __init__(self, layers, head, weight_decay=0.0, dtype=np.float64):
        self.layers = list(layers)
        self.head = head
        self.weight_decay = float(weight_decay)
        self.dtype = as_dtype(dtype)
        self._work = {}
        self._flatten()

    def _flatten(self):
        modules = [(f"layer{i}", layer) for i, layer in enumerate(self.layers)]
        modules.append(("head", self.head))
        entries = [(f"{mod}.{key}", module, key)
                   for mod, module in modules for key in module.params]
        size = sum(module.params[key].size for _, module, key in entries)
        self.theta = np.empty(size, dtype=self.dtype)
        self.grad = np.zeros(size, dtype=self.dtype)
        self.params, self.grads, self.slices = {}, {}, {}
        self._weight_slices = []
        offset = 0
        for name, module, key in entries:
            value = module.params[key]
            piece = slice(offset, offset + value.size)
            offset += value.size
            view = self.theta[piece].reshape(value.shape)
            view[...] = value
            module.params[key] = self.params[name] = view
            module.grads[key] = self.grads[name] = self.grad[piece].reshape(value.shape)
            self.slices[name] = piece
            if key.startswith("W"):
                self._weight_slices.append(piece)

    @property
    def n_params(self):
        return self.theta.size

    @property
    def n_features(self):
        return self.layers[0].n_in if self.layers else self.head.n_features

    @property
    def n_classes(self):
        return self.head.n_classes

    def get_params(self):
        """A 1-D copy of every parameter (in the network's dtype), in the layout of ``grad``."""
        return self.theta.copy()

    def set_params(self, theta):
        """Copy a 1-D vector of every parameter into the network (the inverse of get_params)."""
        theta = np.asarray(theta, dtype=self.dtype)
        if theta.shape != self.theta.shape:
            raise ValueError(f"expected a parameter vector of shape {self.theta.shape}, "
                             f"got {theta.shape}")
        self.theta[...] = theta

    def forward(self, X):
        """Run the hidden layers: the features x^(L) (width x m) the head classifies."""
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def forward_backward(self, X, C):
        """Objective on the batch (X: n x m, C: k x m one-hot); fills ``grad`` in place."""
        return self._forward_backward(*self._batch(X, C))

    def _forward_backward(self, X, C):
        """forward_backward of a batch already checked and in the network's dtype (the
        training loop checks its data once, not every step)."""
        Y, dY = self._workspace(X.shape[1])
        for layer, out in zip(self.layers, Y):
            X = layer.forward(X, out=out)
        loss = self.head.forward(X, C)
        dX = self.head.backward(need_dX=bool(self.layers), out=dY[-1] if dY else None)
        for i in range(len(self.layers) - 1, -1, -1):
            # nothing needs dF/dX of the input data
            dX = self.layers[i].backward(dX, need_dX=i > 0, out=dY[i - 1] if i else None)
        if self.weight_decay:
            loss += float(self._add_weight_decay())
        return loss

    def _workspace(self, m):
        """For a batch of m columns, the arrays a training step writes every layer's output Y
        and every dF/dY into (None where NumPy may allocate): none of them leaves the step, so
        the next step of the same size reuses them. Kept for the last two batch sizes (an
        epoch's full and partial mini-batches)."""
        work = self._work.get(m)
        if work is None:
            if len(self._work) >= 2:
                self._work.clear()
            Y = [buffer((layer.n_out, m), self.dtype) for layer in self.layers]
            work = self._work[m] = (Y, [None if y is None else np.empty_like(y) for y in Y])
        return work

    def _penalty(self):
        """weight_decay / 2 * sum ||W||_F^2 over the weight matrices."""
        return 0.5 * self.weight_decay * sum(
            np.dot(self.theta[piece], self.theta[piece]) for piece in self._weight_slices)

    def _add_weight_decay(self):
        for piece in self._weight_slices:
            self.grad[piece] += self.weight_decay * self.theta[piece]
        return self._penalty()

    def loss_and_grad(self, X, C):
        """Objective and its gradient (a 1-D copy in the layout of ``get_params``)."""
        loss = self.forward_backward(X, C)
        return loss, self.grad.copy()

    def loss(self, X, C):
        """Objective on the batch without computing the gradient."""
        X, C = self._batch(X, C)
        loss = self.head.forward(self.forward(X), C)
        if self.weight_decay:
            loss += float(self._penalty())
        return loss

    def predict_proba(self, X):
        """Class probabilities P (k x m); every column sums to 1."""
        return self.head.predict_proba(self.forward(self._inputs(X)))

    def predict(self, X):
        """Most probable class of every column of X (shape m)."""
        return self.head.predict(self.forward(self._inputs(X)))

    def evaluate(self, X, C):
        """Mean cross-entropy (without the weight penalty) and accuracy (a fraction) on X, C."""
        X, C = self._batch(X, C)
        H = self.forward(X)
        loss = self.head.forward(H, C)
        accuracy = np.mean(self.head.predict(H) == np.argmax(C, axis=0))
        return loss, float(accuracy)

    def _inputs(self, X):
        """X checked (n x m) and in the network's dtype."""
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[0] != self.n_features:
            raise ValueError(f"X must be {self.n_features} x m (columns are samples), "
                             f"got shape {X.shape}")
        return X

    def _batch(self, X, C):
        """X and C checked (n x m and k x m) and in the network's dtype."""
        X, C = self._inputs(X), np.asarray(C, dtype=self.dtype)
        if C.shape != (self.n_classes, X.shape[1]):
            raise ValueError(f"C must be {self.n_classes} x {X.shape[1]} one-hot, "
                             f"got shape {C.shape}")
        return X, C


ARCHITECTURES = ("standard", "resnet")
DTYPES = ("float32", "float64")


def as_dtype(dtype):
    """The numpy dtype of ``dtype`` (a name or a type), refused unless float32 or float64."""
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value is None or value.name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return value


def make_network(arch="standard", n_features=2, n_classes=2, depth=2, width=16,
                 activation="tanh", seed=0, weight_decay=0.0, dtype=np.float64):
    """Build a network with ``depth`` hidden layers and a softmax head.

    arch="standard": ``depth`` standard layers; ``width`` is an int or a list of ``depth``
    widths (they may grow layer by layer). arch="resnet": when ``n_features != width``, one
    standard layer lifts the input to ``width``, then ``depth`` residual blocks of that width.
    ``depth=0`` is plain softmax regression. ``seed`` is an int or a numpy Generator.
    ``dtype`` (float64 or float32, or their names) is the precision the network computes in;
    the initial weights are drawn in float64 and rounded, so both start from the same point.
    """
    rng = np.random.default_rng(seed)
    depth = int(depth)
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if arch == "standard":
        widths = [int(width)] * depth if np.isscalar(width) else [int(w) for w in width]
        if len(widths) != depth:
            raise ValueError(f"got {len(widths)} widths for depth {depth}")
        if any(w < 1 for w in widths):
            raise ValueError(f"widths must be positive, got {widths}")
        sizes = [n_features] + widths
        layers = [StandardLayer(n_in, n_out, activation, rng)
                  for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    elif arch == "resnet":
        if not np.isscalar(width):
            raise ValueError("a resnet has one width: pass an int")
        width = int(width)
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        layers = []
        if depth and n_features != width:
            layers.append(StandardLayer(n_features, width, activation, rng))
        # 1/sqrt(depth) keeps the variance the blocks add up to O(1) however deep the net.
        scale2 = np.sqrt(1.0 / width / max(depth, 1))
        layers += [ResidualLayer(width, activation, rng, scale2=scale2) for _ in range(depth)]
    else:
        raise ValueError(f"unknown arch {arch!r}; choose one of {ARCHITECTURES}")
    n_last = layers[-1].n_out if layers else n_features
    head = SoftmaxRegression(n_last, n_classes, rng)
    return Network(layers, head, weight_decay=weight_decay, dtype=dtype)
