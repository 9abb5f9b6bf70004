#!/usr/bin/python3
"""Regenerate the training-step fixtures for train/pytorch_test.go.

For each model below this builds the torch.nn model of make_fixtures.py (its
helpers, layouts and random weights), draws a batch of 8 random examples and
labels, and trains it on that same batch for three steps of

  sgd   torch.optim.SGD(lr=0.1, momentum=0.9)
  adam  torch.optim.Adam(lr=1e-3)  (betas 0.9, 0.999, eps 1e-8)

with F.cross_entropy (the mean over the batch) on the logits under the
model's final softmax, all in float64 (the model cast with .double()). A
language model (tiny_lm) has a target per position instead, the next id,
on sequences of different lengths padded with id 0 and target -1, and its
loss is F.cross_entropy(ignore_index=-1) on its logits: the mean over the
positions that are not padding. It writes into
testdata/pytorch/train/<name>/:

  init.safetensors     the initial weights, under mdlc's names and layouts
  x.npy                the batch, float32, in mdlc's layout (NHWC for images),
                       or a language model's token ids, int64 [8, T]
  y.npy                its class ids, int64 ([8], or [8, T], -1 for padding)
  <opt>_1.safetensors  the weights after one step of <opt>, float64 rounded
  <opt>_3.safetensors  and after three steps on the same batch
  losses.npy           float32 [2, 3]: the loss before each of the three
                       updates, for sgd (row 0) and adam (row 1); [0][0] and
                       [1][0] are the same initial loss

It also runs the same steps in float32 and prints float32 PyTorch's error
against the float64 oracle under the metrics the Go test uses, the error
plain float32 arithmetic makes on that step (README.md lists them).

Run with /usr/bin/python3 (torch and numpy only); deterministic (fixed seeds,
one thread):

    /usr/bin/python3 testdata/pytorch/make_train_fixtures.py [NAME...]
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (the layouts and weights of the inference fixtures)

OUT = os.path.join(HERE, "train")
BATCH = 8

# name: (torch.optim class, its arguments). mdlc's matching optimisers are in
# train/pytorch_test.go's trainOptimizers.
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "adam": (torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
}
STEPS = (1, 3)

# The Go test's metrics (train/pytorch_test.go): the floors of the update
# and weight errors as fractions of the tensor's largest update and |weight|,
# and the gradient below which (relative to its tensor's largest) an element
# is left out of Adam's checks.
FLOORS = {"sgd": (1e-2, 1e-2), "adam": (1.0, 1.0)}
ADAM_GRAD_FLOOR = 1e-2


# ---------------------------------------------------------------------------
# The models. forward takes mdlc's input layout and returns the logits under
# the model's final softmax: the loss is taken on them, fused, as mdlc does.

class FashionCNN(mf.Model):  # stdlib/fashion_cnn.mdl: the seed's CNN on 28x28x1
    def __init__(self):
        super().__init__()
        self.c1 = self.add("conv2d", mf.Conv(1, 32, 3))
        self.c2 = self.add("conv2d_1", mf.Conv(32, 64, 3))
        self.d = self.add("dense", nn.Linear(1600, 10))

    def forward(self, x):
        x = mf.nchw(x)
        x = mf.maxpool(F.relu(self.c1(x)), 2)
        x = mf.maxpool(F.relu(self.c2(x)), 2)
        return self.d(mf.flatten(x))


class LeNet(mf.LeNet):  # stdlib/lenet.mdl
    def forward(self, x):
        x = mf.nchw(x)
        x = mf.avgpool(torch.tanh(self.c1(x)), 2)
        x = mf.avgpool(torch.tanh(self.c2(x)), 2)
        x = torch.tanh(self.d1(mf.flatten(x)))
        x = torch.tanh(self.d2(x))
        return self.d3(x)


class EncoderClassifier(mf.Model):  # testdata/pytorch/train/encoder_classifier.mdl
    def __init__(self):
        super().__init__()
        self.add("proj", nn.Linear(8, 16))
        self.layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, activation="gelu",
                                                batch_first=True, norm_first=False)
        self.named.update(mf.layer_names("", self.layer))
        self.add("head", nn.Linear(16, 4))

    def forward(self, x):  # x: (N, 6, 8)
        m = self.named
        return m["head"](self.layer(m["proj"](x)).mean(1))


class LSTMClassifier(mf.Model):  # testdata/pytorch/train/lstm_classifier.mdl
    def __init__(self):
        super().__init__()
        self.add("embed", nn.Linear(6, 8))
        self.add("lstm", nn.LSTM(8, 12, batch_first=True))
        self.add("head", nn.Linear(12, 5))

    def forward(self, x):  # x: (N, 7, 6)
        m = self.named
        _, (h, _) = m["lstm"](torch.tanh(m["embed"](x)))
        return m["head"](h[-1])


class TinyLM(mf.Model):  # testdata/pytorch/train/tiny_lm.mdl
    def __init__(self):
        super().__init__()
        self.add("tok", nn.Embedding(LM_VOCAB, 32))
        self.add("pos", mf.Positions(LM_T, 32))
        self.blocks = self.layers("block", 1, norm_first=True)
        self.add("norm", nn.LayerNorm(32, eps=1e-5))
        self.add("head", nn.Linear(32, LM_VOCAB, bias=False))

    def forward(self, ids):  # ids: (N, T) int64
        m = self.named
        x = m["pos"](m["tok"](ids))
        mask = mf.causal_mask(ids.shape[1]).to(x.dtype)
        for b in self.blocks:
            x = b(x, src_mask=mask)
        return m["head"](m["norm"](x))


LM_VOCAB, LM_T = 20, 6
# Each sequence's ids (2 to T+1 of them: its inputs and, shifted by one,
# their targets), padded after its end.
LM_LENGTHS = (7, 7, 5, 3, 2, 6, 4, 7)


def next_token_batch():
    """A language model's batch, as mdlc's next-token data serves it."""
    seqs = torch.randint(1, LM_VOCAB, (BATCH, LM_T + 1), dtype=torch.int64)
    x = torch.zeros((BATCH, LM_T), dtype=torch.int64)
    y = torch.full((BATCH, LM_T), -1, dtype=torch.int64)
    for i, n in enumerate(LM_LENGTHS):
        x[i, :n - 1], y[i, :n - 1] = seqs[i, :n - 1], seqs[i, 1:n]
    return x, y


# name: (.mdl file, model class, example shape ("lm": next_token_batch), classes, seed)
MODELS = {
    "fashion_cnn": ("stdlib/fashion_cnn.mdl", FashionCNN, (28, 28, 1), 10, 21),
    "lenet": ("stdlib/lenet.mdl", LeNet, (28, 28, 1), 10, 22),
    "encoder_classifier": ("testdata/pytorch/train/encoder_classifier.mdl", EncoderClassifier, (6, 8), 4, 23),
    "lstm_classifier": ("testdata/pytorch/train/lstm_classifier.mdl", LSTMClassifier, (7, 6), 5, 24),
    "tiny_lm": ("testdata/pytorch/train/tiny_lm.mdl", TinyLM, "lm", LM_VOCAB, 25),
}


def train(model, x, y, opt, steps, dtype):
    """Trains a copy of model in dtype for steps steps on (x, y): the
    weights after the last one (mdlc's names and layouts, rounded to
    float32) and the loss before each."""
    m = copy.deepcopy(model).to(dtype).train()
    cls, args = OPTIMIZERS[opt]
    o = cls(m.parameters(), **args)
    losses = []
    for _ in range(steps):
        o.zero_grad()
        out = m(x if not x.is_floating_point() else x.to(dtype))
        # A target per position (a language model's) flattens to rows; a
        # classifier's rows are already so. -1 marks padding.
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-1)
        loss.backward()
        o.step()
        losses.append(loss.item())
    return mf.export(m.named), losses


def well_determined(grad):
    """train/pytorch_test.go's wellDetermined: the elements Adam's checks
    keep, by the float64 gradient (as the sgd_1 fixture shows it)."""
    model = max(float(np.max(np.abs(g))) for g in grad.values())
    mask = {}
    for k, g in grad.items():
        top = float(np.max(np.abs(g)))
        keep = (g == 0) | (np.abs(g) >= ADAM_GRAD_FLOOR * top)
        mask[k] = keep if top >= 1e-9 * model else np.zeros_like(keep)
    return mask


def errors(init, got, want, floors, mask):
    """train/pytorch_test.go's compareStep: the largest update and weight
    errors over the parameters, and the parameter of the worst update."""
    f64 = lambda a: a.astype(np.float64)
    largest = max(float(np.max(np.abs(f64(want[k]) - f64(init[k])))) for k in want)
    largest_w = max(float(np.max(np.abs(want[k]))) for k in want)
    worst_u, worst_w, worst = 0.0, 0.0, None
    for k in sorted(want):
        m = mask[k] if mask is not None else np.ones(want[k].shape, bool)
        if not m.any():
            continue
        g, w, b = f64(got[k])[m], f64(want[k])[m], f64(init[k])[m]
        scale = float(np.max(np.abs(w - b)))
        if scale < 1e-6 * largest:
            scale = largest
        scale_w = float(np.max(np.abs(want[k])))
        if scale_w < 1e-6 * largest_w:
            scale_w = largest_w
        ulp = np.spacing(np.abs(want[k][m]).astype(np.float32)).astype(np.float64)
        ue = float(np.max(np.maximum(np.abs((g - b) - (w - b)) - ulp, 0) /
                          np.maximum(np.abs(w - b), floors[0] * scale)))
        we = mf.rel_err(g, w, floors[1] * scale_w)
        if ue >= worst_u:
            worst_u, worst = ue, k
        worst_w = max(worst_w, we)
    return worst_u, worst_w, worst


def main():
    torch.set_num_threads(1)  # a fixed summation order
    only = sys.argv[1:]
    for name, (mdl, cls, shape, classes, seed) in MODELS.items():
        if only and name not in only:
            continue
        # The Go test finds the model by the fixture's name.
        assert mdl in (f"stdlib/{name}.mdl", f"testdata/pytorch/train/{name}.mdl"), name
        assert os.path.exists(os.path.join(mf.ROOT, mdl)), mdl
        torch.manual_seed(seed)
        # PyTorch's default initialisation, where real training starts: with
        # make_fixtures.py's larger weights (randomize) fashion_cnn's loss
        # starts at 4.4 and SGD's second step throws it to 15, a regime where
        # float32 rounding grows step by step and the fixture tells less.
        model = cls()
        # float32 weights, written as they are: the float64 model starts
        # from exactly these.
        init = mf.export(model.named)
        assert sum(w.size for w in init.values()) == sum(p.numel() for p in model.parameters()), name
        if shape == "lm":
            x, y = next_token_batch()
        else:
            x = torch.rand((BATCH,) + shape, dtype=torch.float32)
            y = torch.randint(0, classes, (BATCH,), dtype=torch.int64)

        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        mf.write_safetensors(os.path.join(d, "init.safetensors"), init)
        np.save(os.path.join(d, "x.npy"), x.numpy())
        np.save(os.path.join(d, "y.npy"), y.numpy())
        losses = []
        report = []
        sgd1 = None
        for opt in OPTIMIZERS:
            for steps in STEPS:
                want, loss64 = train(model, x, y, opt, steps, torch.float64)
                mf.write_safetensors(os.path.join(d, f"{opt}_{steps}.safetensors"), want)
                if (opt, steps) == ("sgd", 1):
                    # SGD's first step is w - lr·g: the gradient as the Go test sees it.
                    lr = OPTIMIZERS["sgd"][1]["lr"]
                    sgd1 = {k: (init[k].astype(np.float64) - want[k]) / lr for k in want}
                # float32 PyTorch from the same start, under the Go test's metrics.
                got, loss32 = train(model, x, y, opt, steps, torch.float32)
                mask = well_determined(sgd1) if opt == "adam" else None
                ue, we, worst = errors(init, got, want, FLOORS[opt], mask)
                le = max(abs(a - b) / abs(b) for a, b in zip(loss32, loss64))
                left = 0 if mask is None else sum(int((~m).sum()) for m in mask.values())
                report.append(f"  {opt}_{steps}: float32 PyTorch: update {ue:.1e} ({worst}), "
                              f"weights {we:.1e}, losses {le:.1e}; {left} elements left out")
            losses.append(loss64)
        np.save(os.path.join(d, "losses.npy"), np.array(losses, dtype=np.float32))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{name}: {size / 1024:.1f} KiB, loss {losses[0][0]:.6f}")
        print("\n".join(report))


if __name__ == "__main__":
    main()
