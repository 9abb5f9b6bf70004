"""Exports the models cmd/mdlc/onnx_test.go imports, with PyTorch 1.13's
ONNX exporter, and the input and float32 output PyTorch gives for each.

    python3 export_models.py OUT_DIR

Each model NAME gives NAME.onnx, NAME_input.npy and NAME_output.npy:
torchvision's ResNet-18 with a dynamic batch (opset 13), MobileNetV2
(opset 13, batch 1), a Transformer encoder layer (opset 14, whose
attention folds the batch into its heads) and a stack of two (opset 17), and recurrent layers (a
bidirectional LSTM, a GRU whose sequence and last state are both read, a
tanh RNN), and a feed-forward block whose GELU and layer norm the
exporter decomposes (opset 13, before Gelu and LayerNormalization ops),
attention written with einsum, multi-head attention with a causal
mask written out (opset 13, dynamic batch), and a token classifier
around PyTorch's encoder layer with a padding mask, as bench/compare.py
exports bert-b8 (opset 13, dynamic batch), and a pre-norm encoder layer
under a causal mask made with triu, as it exports gpt-t128 (opset 14). Then, at opsets 9, 11, 13 and
17 each: a small CNN, bidirectional LSTM and GRU layers, and a BERT-style
encoder taking token ids and an attention mask.
"""
import math
import os
import sys

import numpy as np
import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(0)
rng = np.random.RandomState(0)


def export(name, model, x, opset, dynamic=None, grad=False):
    """x is the input, or a dict of named inputs (saved as
    NAME_input_<input>.npy). grad runs the model with gradients on, as
    PyTorch's encoder layer must run to take the path it exports."""
    model.eval()
    xs = x if isinstance(x, dict) else {"input": x}
    args = tuple(torch.from_numpy(v) for v in xs.values())
    with torch.enable_grad() if grad else torch.no_grad():
        y = model(*args).detach()
    torch.onnx.export(model, args, os.path.join(out, name + ".onnx"), opset_version=opset,
                      input_names=list(xs), output_names=["output"], dynamic_axes=dynamic)
    if isinstance(x, dict):
        for k, v in x.items():
            np.save(os.path.join(out, name + "_input_" + k + ".npy"), v)
    else:
        np.save(os.path.join(out, name + "_input.npy"), x)
    np.save(os.path.join(out, name + "_output.npy"), y.numpy())


export("resnet18", torchvision.models.resnet18(), rng.randn(2, 3, 224, 224).astype(np.float32), 13,
       {"input": {0: "batch"}, "output": {0: "batch"}})
export("mobilenet_v2", torchvision.models.mobilenet_v2(), rng.randn(1, 3, 224, 224).astype(np.float32), 13)
export("encoder", torch.nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.0),
       rng.randn(2, 16, 64).astype(np.float32), 14, {"input": {0: "batch"}, "output": {0: "batch"}})
export("encoder2", torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(32, 2, 64, batch_first=True, dropout=0.0), 2,
                                               enable_nested_tensor=False),
       rng.randn(2, 8, 32).astype(np.float32), 17, {"input": {0: "batch"}, "output": {0: "batch"}})


class Recurrent(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, batch_first=True, bidirectional=True)
        self.gru = torch.nn.GRU(32, 12, batch_first=True)
        self.rnn = torch.nn.RNN(12, 10)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, h = self.gru(y)
        z, _ = self.rnn((y + h[0].unsqueeze(1)).transpose(0, 1))
        return z[-1]


export("recurrent", Recurrent(), rng.randn(3, 7, 8).astype(np.float32), 14)


class FeedForward(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(16, 32)
        self.down = torch.nn.Linear(32, 8)
        self.norm = torch.nn.LayerNorm(8)

    def forward(self, x):
        return self.norm(self.down(torch.nn.functional.gelu(self.up(x))))


export("feedforward", FeedForward(), rng.randn(2, 5, 16).astype(np.float32), 13, {"input": {0: "batch"}, "output": {0: "batch"}})


class EinsumAttention(torch.nn.Module):
    def forward(self, x):
        p = torch.softmax(torch.einsum("bid,bjd->bij", x, x) / 4, dim=-1)
        return torch.einsum("bij,bjd->bid", p, x)


export("einsum", EinsumAttention(), rng.randn(2, 6, 16).astype(np.float32), 13)


class MaskedAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)
        self.register_buffer("causal", torch.triu(torch.full((6, 6), float("-inf")), diagonal=1))

    def forward(self, x):
        # As Hugging Face's models write it: heads split off the features.
        n, t, _ = x.shape
        q, k, v = (f(x).view(n, t, 2, 8).transpose(1, 2) for f in (self.q, self.k, self.v))
        p = torch.softmax(q @ k.transpose(-2, -1) * 8 ** -0.5 + self.causal, dim=-1)
        return (p @ v).transpose(1, 2).reshape(n, t, 16)


export("masked_attention", MaskedAttention(), rng.randn(2, 6, 16).astype(np.float32), 13,
       {"input": {0: "batch"}, "output": {0: "batch"}})


class PaddedEncoder(torch.nn.Module):
    """bench/compare.py's bert-b8, smaller: PyTorch's encoder layer with a
    padding mask (ids == 0), whose export computes the mask's Expand shape
    with Where over constants and adds -inf where a key is padding."""

    def __init__(self, vocab=50, d=32, t=8):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Parameter(torch.rand(t, d))
        self.norm = torch.nn.LayerNorm(d, eps=1e-12)
        self.block = torch.nn.TransformerEncoderLayer(d, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                                      batch_first=True)
        self.pooler, self.classifier = torch.nn.Linear(d, d), torch.nn.Linear(d, 2)

    def forward(self, ids):
        x = self.block(self.norm(self.tok(ids) + self.pos[:ids.shape[1]]), src_key_padding_mask=ids == 0)
        return torch.softmax(self.classifier(torch.tanh(self.pooler(x[:, 0]))), -1)


class CausalEncoder(torch.nn.Module):
    """bench/compare.py's gpt-t128, smaller: a pre-norm encoder layer under
    a causal mask made in forward, triu(-inf, 1), which opset 14 exports as
    Trilu of a constant."""

    def __init__(self, d=32):
        super().__init__()
        self.block = torch.nn.TransformerEncoderLayer(d, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                                      batch_first=True, norm_first=True)

    def forward(self, x):
        t = x.shape[1]
        return self.block(x, src_mask=torch.triu(torch.full((t, t), float("-inf")), 1))


export("causal_encoder", CausalEncoder(), rng.randn(1, 8, 32).astype(np.float32), 14, grad=True)

padded = rng.randint(1, 50, size=(2, 8)).astype(np.int64)
padded[1, 5:] = 0
export("padded_encoder", PaddedEncoder(), {"ids": padded}, 13, {"ids": {0: "batch"}, "output": {0: "batch"}}, grad=True)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2), torch.nn.ReLU6(),
            torch.nn.AvgPool2d(2))
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        return torch.softmax(self.fc(torch.flatten(self.features(x), 1)), dim=1)


class BiRNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 12, batch_first=True, bidirectional=True)
        self.gru = torch.nn.GRU(24, 6, batch_first=True, bidirectional=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return y


class Bert(torch.nn.Module):
    """A BERT-style encoder as Hugging Face writes it: token and position
    embeddings, layer norm, attention with (1 - mask)·-10000 added to the
    scores, a GELU feed-forward block, a tanh pooler over the first token."""

    def __init__(self, vocab=50, d=32, heads=4, t=8):
        super().__init__()
        self.heads = heads
        self.tok = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(t, d)
        self.norm0 = torch.nn.LayerNorm(d, eps=1e-12)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.norm1 = torch.nn.LayerNorm(d, eps=1e-12)
        self.up, self.down = torch.nn.Linear(d, 2 * d), torch.nn.Linear(2 * d, d)
        self.norm2 = torch.nn.LayerNorm(d, eps=1e-12)
        self.pool = torch.nn.Linear(d, d)

    def forward(self, ids, mask):
        n, t = ids.shape
        x = self.norm0(self.tok(ids) + self.pos.weight[:t])
        split = lambda z: z.view(n, t, self.heads, -1).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, dim=-1)
        a = self.o((p @ v).transpose(1, 2).reshape(n, t, -1))
        x = self.norm1(x + a)
        x = self.norm2(x + self.down(torch.nn.functional.gelu(self.up(x))))
        return torch.tanh(self.pool(x[:, 0]))


ids = rng.randint(1, 50, size=(2, 8)).astype(np.int64)
mask = np.ones((2, 8), dtype=np.int64)
mask[1, 5:] = 0
ids[1, 5:] = 0
for opset in (9, 11, 13, 17):
    export(f"smallcnn_op{opset}", SmallCNN(), rng.randn(2, 3, 8, 8).astype(np.float32), opset,
           {"input": {0: "batch"}, "output": {0: "batch"}})
    export(f"birnn_op{opset}", BiRNN(), rng.randn(2, 5, 8).astype(np.float32), opset)
    export(f"bert_op{opset}", Bert(), {"input_ids": ids, "attention_mask": mask}, opset)
