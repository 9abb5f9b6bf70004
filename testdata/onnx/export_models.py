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
attention written with einsum, and multi-head attention with a causal
mask written out (opset 13, dynamic batch).
"""
import os
import sys

import numpy as np
import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(0)
rng = np.random.RandomState(0)


def export(name, model, x, opset, dynamic=None):
    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    torch.onnx.export(model, torch.from_numpy(x), os.path.join(out, name + ".onnx"), opset_version=opset,
                      input_names=["input"], output_names=["output"], dynamic_axes=dynamic)
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
