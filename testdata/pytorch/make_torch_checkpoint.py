"""Writes torch_checkpoint/: a PyTorch model's state_dict exactly as PyTorch
names and lays it out (checkpoint.safetensors, with batch norm's
num_batches_tracked), the rename map that fits it to torch_checkpoint.mdl
(map.txt), an input (NHWC) and PyTorch's output computed in float64.
cmd/mdlc's TestTorchCheckpoint loads it with --weights-layout torch.

Run with Debian's python3-torch: /usr/bin/python3 make_torch_checkpoint.py"""
import math
import os

import numpy as np
import torch
import torch.nn as nn

from make_fixtures import write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_checkpoint")

MAP = """\
# PyTorch's Sequential indices to the layer names of torch_checkpoint.mdl;
# rnn, gru, norm, attn, tconv and head already match.
features\\.0\\.(.*) -> stem.${1}
features\\.1\\.(.*) -> stem_bn.${1}
features\\.3\\.(.*) -> dw.${1}
features\\.4\\.(.*) -> up.${1}
"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1, groups=8),
            nn.ConvTranspose2d(16, 4, 2, stride=2),
        )
        self.rnn = nn.LSTM(32, 7, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(14, 6, batch_first=True)
        self.norm = nn.LayerNorm(6)
        self.attn = nn.MultiheadAttention(6, 2, batch_first=True)
        self.tconv = nn.Conv1d(6, 3, 2)
        self.head = nn.Linear(21, 5)

    def forward(self, image):  # image: (N, 4, 4, 3), NHWC as mdlc takes it
        x = self.features(image.permute(0, 3, 1, 2))
        s = x.permute(0, 2, 3, 1).reshape(x.shape[0], 8, 32)
        s, _ = self.rnn(s)
        s, _ = self.gru(s)
        s = self.norm(s)
        s, _ = self.attn(s, s, s, need_weights=False)
        s = self.tconv(s.transpose(1, 2)).transpose(1, 2)
        return self.head(s.flatten(1))


def main():
    torch.manual_seed(7)
    net = Net()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                b = math.sqrt(6 / m.weight[0].numel())
                m.weight.uniform_(-b, b)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(100)
            elif isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.MultiheadAttention):
                m.in_proj_bias.uniform_(-0.2, 0.2)
    net.eval()
    os.makedirs(OUT, exist_ok=True)
    # Saved as PyTorch keeps it: every entry of the state_dict, num_batches_tracked
    # included, under its own name and in its own layout.
    write_safetensors(os.path.join(OUT, "checkpoint.safetensors"), {k: v.numpy() for k, v in net.state_dict().items()})
    with open(os.path.join(OUT, "map.txt"), "w") as f:
        f.write(MAP)
    image = torch.rand(2, 4, 4, 3, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        y = net.double()(image)
    np.save(os.path.join(OUT, "input.npy"), image.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "want.npy"), y.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
