#!/usr/bin/python3
"""Regenerate the PyTorch oracle fixtures for cmd/mdlc/pytorch_test.go.

For each model below (the stdlib's <name>.mdl, or testdata/pytorch/<name>.mdl)
this builds the equivalent torch.nn model with seeded random weights, and
writes into testdata/pytorch/<name>/:

  weights.safetensors  the weights under mdlc's names, in mdlc's layouts
  input.npy            a float32 input in mdlc's layout (NHWC for images),
                       uniform in [0, 1), or token ids (int64; int32 for bert)
  output.npy           PyTorch's output in float64, rounded to float32

Run from anywhere with /usr/bin/python3 (torch and numpy only); the output is
byte-for-byte the same on every run on a given machine.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------------------
# File formats.

def write_safetensors(path, tensors):
    """Writes {name: ndarray} as safetensors: an 8-byte little-endian header
    length, a JSON header (names sorted, padded with spaces to a multiple of
    8), then the raw little-endian data in header order. Arrays are written
    as float32, but int64 ones (a state_dict's counters) as they are."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        dtype, np_type = ("I64", "<i8") if a.dtype == np.int64 else ("F32", "<f4")
        b = np.ascontiguousarray(a, dtype=np_type).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# mdlc semantics in PyTorch, on NCHW tensors.

def same_pads(size, k, s, d):
    """TF/Keras "same" padding of one axis: (before, after), extra after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def pad_same(x, k, s, d=(1, 1), value=0.0):
    top, bottom = same_pads(x.shape[2], k[0], s[0], d[0])
    left, right = same_pads(x.shape[3], k[1], s[1], d[1])
    return F.pad(x, (left, right, top, bottom), value=value)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv(nn.Module):
    """mdlc conv2d / depthwise_conv2d: nn.Conv2d with TF-style "same" padding
    applied explicitly (PyTorch's own padding is symmetric); an integer
    padding is PyTorch's, as mdlc's padding=1 is. depthwise marks a
    depthwise_conv2d, whose kernel mdlc stores as Keras does."""

    def __init__(self, cin, cout, kernel, stride=1, padding="valid", dilation=1, groups=1, bias=True,
                 depthwise=False):
        super().__init__()
        self.padding = padding
        self.depthwise = depthwise
        self.conv = nn.Conv2d(cin, cout, pair(kernel), stride=pair(stride), dilation=pair(dilation),
                              groups=groups, bias=bias, padding=0 if isinstance(padding, str) else padding)

    def forward(self, x):
        c = self.conv
        if self.padding == "same":
            x = pad_same(x, c.kernel_size, c.stride, c.dilation)
        return c(x)


def maxpool(x, pool, stride=None, padding="valid"):
    pool = pair(pool)
    stride = pool if stride is None else pair(stride)
    if padding == "same":
        x = pad_same(x, pool, stride, value=-math.inf)
    return F.max_pool2d(x, pool, stride)


def avgpool(x, pool, stride=None, padding="valid"):
    """Average pooling with padding excluded from the mean."""
    pool = pair(pool)
    stride = pool if stride is None else pair(stride)
    if padding == "valid":
        return F.avg_pool2d(x, pool, stride)
    total = F.avg_pool2d(pad_same(x, pool, stride), pool, stride, divisor_override=1)
    count = F.avg_pool2d(pad_same(torch.ones_like(x[:, :1]), pool, stride), pool, stride, divisor_override=1)
    return total / count


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def nchw(x):
    return x.permute(0, 3, 1, 2)


def flatten(x):
    """mdlc flatten of an NCHW tensor: flattens in NHWC order."""
    return torch.flatten(nhwc(x), 1)


def bn(c, eps=1e-3):
    """BatchNorm2d with random statistics and affine parameters."""
    m = nn.BatchNorm2d(c, eps=eps)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.5, 0.5)
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.5, 2.0)
    return m


def export(named):
    """Maps {mdlc layer name: module} to {mdlc parameter name: ndarray}."""
    out = {}
    for name, m in named.items():
        depthwise = False
        if isinstance(m, Conv):
            depthwise, m = m.depthwise, m.conv
        if isinstance(m, Separable):
            d, p = m.depthwise, m.pointwise
            # Keras's (kh, kw, C, multiplier), as depthwise_conv2d's.
            k = d.weight.detach().permute(2, 3, 1, 0)
            out[name + ".depthwise_kernel"] = k.reshape(k.shape[0], k.shape[1], d.in_channels, -1)
            out[name + ".pointwise_kernel"] = p.weight.detach().permute(2, 3, 1, 0)
            out[name + ".bias"] = p.bias.detach()
            continue
        elif isinstance(m, nn.ConvTranspose2d):
            out[name + ".kernel"] = m.weight.detach().permute(2, 3, 1, 0)  # (in, out, kh, kw) -> (kh, kw, out, in)
        elif isinstance(m, nn.Conv1d):
            out[name + ".kernel"] = m.weight.detach().permute(2, 1, 0)  # (out, in/groups, k) -> (k, in/groups, out)
        elif isinstance(m, nn.Conv2d):
            k = m.weight.detach().permute(2, 3, 1, 0)  # OIHW -> HWIO
            if depthwise:
                # (kh, kw, 1, C·multiplier) -> Keras's (kh, kw, C, multiplier):
                # output channel c·multiplier + j is filter j of channel c.
                k = k.reshape(k.shape[0], k.shape[1], m.in_channels, -1)
            out[name + ".kernel"] = k
        elif isinstance(m, nn.Linear):
            out[name + ".kernel"] = m.weight.detach().t()  # [out, in] -> [in, out]
        elif isinstance(m, (nn.RNN, nn.LSTM, nn.GRU)):
            # weight_ih [G·H, in] is mdlc's kernel transposed, weight_hh its
            # recurrent_kernel; the reverse direction's under reverse.
            assert m.num_layers == 1 and m.batch_first
            for suffix, prefix in [("", ""), ("_reverse", "reverse.")][:2 if m.bidirectional else 1]:
                out[f"{name}.{prefix}kernel"] = getattr(m, "weight_ih_l0" + suffix).detach().t()
                out[f"{name}.{prefix}bias"] = getattr(m, "bias_ih_l0" + suffix).detach()
                out[f"{name}.{prefix}recurrent_kernel"] = getattr(m, "weight_hh_l0" + suffix).detach().t()
                out[f"{name}.{prefix}recurrent_bias"] = getattr(m, "bias_hh_l0" + suffix).detach()
            continue
        elif isinstance(m, Packed):
            # mdlc's packed=true keeps in_proj whole: qkv [d, 3d].
            a = m.attention
            out[name + ".qkv.kernel"] = a.in_proj_weight.detach().t()
            out[name + ".qkv.bias"] = a.in_proj_bias.detach()
            out[name + ".out.kernel"] = a.out_proj.weight.detach().t()
            out[name + ".out.bias"] = a.out_proj.bias.detach()
            continue
        elif isinstance(m, nn.MultiheadAttention):
            # in_proj packs q, k, v as [3d, d] rows; mdlc keeps a dense
            # layer each, [d, d] as [in, out].
            d = m.embed_dim
            for i, part in enumerate("qkv"):
                out[f"{name}.{part}.kernel"] = m.in_proj_weight.detach()[i * d:(i + 1) * d].t()
                out[f"{name}.{part}.bias"] = m.in_proj_bias.detach()[i * d:(i + 1) * d]
            out[name + ".out.kernel"] = m.out_proj.weight.detach().t()
            out[name + ".out.bias"] = m.out_proj.bias.detach()
            continue
        elif isinstance(m, nn.Embedding):
            out[name + ".embeddings"] = m.weight.detach()
            continue
        elif isinstance(m, Positions):
            out[name + ".positions"] = m.weight.detach()
            continue
        elif isinstance(m, nn.LayerNorm):
            out[name + ".gamma"] = m.weight.detach()
            out[name + ".beta"] = m.bias.detach()
            continue
        elif isinstance(m, RMSNorm):
            out[name + ".gamma"] = m.weight.detach()
            continue
        elif isinstance(m, nn.BatchNorm2d):
            out[name + ".gamma"] = m.weight.detach()
            out[name + ".beta"] = m.bias.detach()
            out[name + ".moving_mean"] = m.running_mean
            out[name + ".moving_variance"] = m.running_var
            continue
        else:
            raise TypeError(f"{name}: cannot export {type(m).__name__}")
        if m.bias is not None:
            out[name + ".bias"] = m.bias.detach()
    return {k: v.numpy().astype(np.float32) for k, v in out.items()}


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (PyTorch 1.13
    has no nn.RMSNorm)."""

    def __init__(self, features, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Positions(nn.Module):
    """A learned positional table [max_len, d]: position t adds row t."""

    def __init__(self, max_len, d):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_len, d))

    def forward(self, x):
        return x + self.weight[:x.shape[1]]


class Model(nn.Module):
    """A model whose layers are registered under their mdlc names."""

    def __init__(self):
        super().__init__()
        self.named = {}

    def add(self, name, m):
        self.add_module(name.replace(".", "__"), m)
        self.named[name] = m
        return m

    def layers(self, prefix, n, norm_first):
        """n gelu nn.TransformerEncoderLayers of d_model 32, 4 heads, ff 64,
        named <prefix>1., <prefix>2., ... as mdlc's encoder and decoder
        blocks name their parts."""
        blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=norm_first) for _ in range(n))
        for i, b in enumerate(blocks):
            self.named.update(layer_names(f"{prefix}{i + 1}.", b))
        return blocks

    def randomize(self):
        """He-uniform weights and biases in [-0.2, 0.2]. PyTorch's default
        initialisation shrinks activations layer by layer, leaving the
        classifiers' softmax almost uniform and nearly independent of the
        input; with these the outputs are O(1) and vary with the input."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    b = math.sqrt(6 / m.weight[0].numel())
                    m.weight.uniform_(-b, b)
                    if m.bias is not None:
                        m.bias.uniform_(-0.2, 0.2)
                elif isinstance(m, nn.MultiheadAttention):
                    b = math.sqrt(6 / m.embed_dim)
                    m.in_proj_weight.uniform_(-b, b)
                    m.in_proj_bias.uniform_(-0.2, 0.2)
                elif isinstance(m, (nn.Embedding, Positions)):
                    m.weight.uniform_(-1, 1)
                elif isinstance(m, (nn.LayerNorm, RMSNorm)):
                    m.weight.uniform_(0.5, 1.5)
                    if getattr(m, "bias", None) is not None:
                        m.bias.uniform_(-0.2, 0.2)
        return self


# ---------------------------------------------------------------------------
# The models. Each forward takes the NHWC input and returns mdlc's output.

class CNN(Model):  # stdlib/cnn.mdl
    def __init__(self):
        super().__init__()
        self.c1 = self.add("conv2d", Conv(3, 32, 3))
        self.c2 = self.add("conv2d_1", Conv(32, 64, 3))
        self.d = self.add("dense", nn.Linear(2304, 10))

    def forward(self, x):
        x = nchw(x)
        x = maxpool(F.relu(self.c1(x)), 2)
        x = maxpool(F.relu(self.c2(x)), 2)
        return F.softmax(self.d(flatten(x)), -1)


class LeNet(Model):  # stdlib/lenet.mdl
    def __init__(self):
        super().__init__()
        self.c1 = self.add("conv2d", Conv(1, 6, 5, padding="same"))
        self.c2 = self.add("conv2d_1", Conv(6, 16, 5))
        self.d1 = self.add("dense", nn.Linear(400, 120))
        self.d2 = self.add("dense_1", nn.Linear(120, 84))
        self.d3 = self.add("dense_2", nn.Linear(84, 10))

    def forward(self, x):
        x = nchw(x)
        x = avgpool(torch.tanh(self.c1(x)), 2)
        x = avgpool(torch.tanh(self.c2(x)), 2)
        x = torch.tanh(self.d1(flatten(x)))
        x = torch.tanh(self.d2(x))
        return F.softmax(self.d3(x), -1)


class MLP(Model):  # stdlib/mlp.mdl
    def __init__(self):
        super().__init__()
        self.d1 = self.add("dense", nn.Linear(784, 256))
        self.drop = nn.Dropout(0.2)
        self.d2 = self.add("dense_1", nn.Linear(256, 128))
        self.d3 = self.add("dense_2", nn.Linear(128, 10))

    def forward(self, x):
        x = torch.flatten(x, 1)  # already NHWC
        x = self.drop(F.relu(self.d1(x)))
        x = F.relu(self.d2(x))
        return F.softmax(self.d3(x), -1)


class ResNet(Model):  # stdlib/resnet.mdl with blocks.mdl
    def __init__(self):
        super().__init__()
        self.add("stem.conv", Conv(3, 16, 3, padding="same", bias=False))
        self.add("stem.bn", bn(16))
        self.block("res1", 16, 16, down=False)
        self.block("res2", 16, 32, down=True)
        self.block("res3", 32, 64, down=True)
        self.add("dense", nn.Linear(64, 10))

    def block(self, name, cin, cout, down):
        s = 2 if down else 1
        self.add(name + ".conv1", Conv(cin, cout, 3, stride=s, padding="same", bias=False))
        self.add(name + ".bn1", bn(cout))
        self.add(name + ".conv2", Conv(cout, cout, 3, padding="same", bias=False))
        self.add(name + ".bn2", bn(cout))
        if down:
            self.add(name + ".proj", Conv(cin, cout, 1, stride=s, bias=False))
            self.add(name + ".proj_bn", bn(cout))

    def run_block(self, name, x):
        m = self.named
        h = F.relu(m[name + ".bn1"](m[name + ".conv1"](x)))
        h = m[name + ".bn2"](m[name + ".conv2"](h))
        shortcut = x
        if name + ".proj" in m:
            shortcut = m[name + ".proj_bn"](m[name + ".proj"](x))
        return F.relu(shortcut + h)

    def forward(self, x):
        m = self.named
        x = F.relu(m["stem.bn"](m["stem.conv"](nchw(x))))
        for name in ("res1", "res2", "res3"):
            x = self.run_block(name, x)
        x = x.mean(dim=(2, 3))
        return F.softmax(m["dense"](x), -1)


class ConvOps(Model):  # testdata/pytorch/convops.mdl
    def __init__(self):
        super().__init__()
        self.down4 = self.add("down4", Conv(3, 8, (4, 3), stride=2, padding="same"))
        self.down2 = self.add("down2", Conv(3, 8, 2, stride=2, padding="same"))
        # depthwise_conv2d(multiplier=2) on 16 channels: output channel o reads
        # input channel o // 2, as in PyTorch's groups=16.
        self.dw = self.add("dw", Conv(16, 32, 3, padding="same", groups=16, depthwise=True))
        self.grouped = self.add("grouped", Conv(16, 8, 3, padding="same", groups=2))
        self.dilated = self.add("dilated", Conv(16, 8, 3, padding="same", dilation=2))
        self.bn = self.add("bn", bn(48, eps=1e-5))
        self.dilated_valid = self.add("dilated_valid", Conv(48, 8, 3, dilation=(2, 1)))
        self.head = self.add("head", nn.Linear(128, 10))

    def forward(self, x):
        x = nchw(x)
        a = F.relu(self.down4(x))
        b = F.relu(self.down2(x))
        x = torch.cat([a, b], 1)
        dw = F.leaky_relu(self.dw(x), 0.3)
        gr = F.leaky_relu(self.grouped(x), 0.1)
        di = torch.sigmoid(self.dilated(x))
        c = self.bn(torch.cat([dw, gr, di], 1))
        mp = maxpool(c, 3, 2, "same")
        ap = avgpool(c, 3, 2, "same")
        t = c.transpose(2, 3)  # NHWC perm [0, 2, 1, 3] swaps height and width
        t = avgpool(t, (2, 3), 1, "same")
        t = maxpool(t, 2, padding="same")
        h = torch.cat([mp - ap, t], 1).mean(dim=(2, 3))
        v = flatten(maxpool(torch.tanh(self.dilated_valid(c)), 2))
        return self.head(torch.cat([h, v], 1))


class Padding(Model):  # testdata/pytorch/padding.mdl
    """PyTorch's own padding: symmetric padding=1 on stride-2 convolutions
    and pools, count_include_pad, and F.pad's reflect, replicate and
    constant modes."""

    def __init__(self):
        super().__init__()
        self.conv1 = self.add("conv1", Conv(3, 8, 3, stride=2, padding=1))
        self.dw = self.add("dw", Conv(8, 16, 3, stride=2, padding=1, groups=8, depthwise=True))
        self.conv2 = self.add("conv2", Conv(16, 8, (3, 2)))
        self.head = self.add("head", nn.Linear(128, 10))

    def forward(self, x):
        x = F.pad(nchw(x), (1, 1, 2, 2), mode="reflect")  # (left, right, top, bottom)
        c1 = F.relu(self.conv1(x))
        mp = F.max_pool2d(c1, 3, 2, padding=1)
        c2 = self.conv2(F.pad(self.dw(c1), (0, 1, 1, 1)))
        x = torch.cat([mp, c2], 1)
        ap = F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=True)
        # Keras's rule on uneven explicit pads: the mean of the cells inside.
        e = F.pad(x, (1, 1, 1, 1), mode="replicate")
        ones = F.pad(torch.ones_like(e[:, :1]), (1, 0, 0, 1))
        ak = F.avg_pool2d(F.pad(e, (1, 0, 0, 1)), 2, 1, divisor_override=1) / F.avg_pool2d(ones, 2, 1, divisor_override=1)
        cz = F.max_pool2d(F.pad(x, (2, 0, 0, 1), value=0.5), 2)
        return self.head(torch.cat([flatten(ap), ak.mean(dim=(2, 3)), cz.mean(dim=(2, 3))], 1))


def avgpool1d_inside(x, pool, stride, left, right):
    """mdlc's avgpool1d on explicit or "same" pads: the mean of the cells
    inside the input (Keras's rule), on NCW tensors."""
    total = F.avg_pool1d(F.pad(x, (left, right)), pool, stride) * pool
    ones = F.pad(torch.ones_like(x[:, :1]), (left, right))
    return total / (F.avg_pool1d(ones, pool, stride) * pool)


class SeqConv(Model):  # testdata/pytorch/seqconv.mdl
    """Conv1d causal, strided "same" with groups, symmetric; the 1-D pools;
    mdlc's (N, W, C) is PyTorch's (N, C, W) transposed."""

    def __init__(self):
        super().__init__()
        self.add("causal", nn.Conv1d(6, 8, 3, dilation=2))
        self.add("strided", nn.Conv1d(6, 8, 4, stride=2, groups=2))
        self.add("sym", nn.Conv1d(6, 8, 5, padding=2))
        self.add("valid", nn.Conv1d(40, 6, 3))
        self.add("head", nn.Linear(86, 5))

    def forward(self, x):  # x: (N, 20, 6)
        m = self.named
        x = x.transpose(1, 2)
        a = F.relu(m["causal"](F.pad(x, (4, 0))))
        b = m["strided"](F.pad(x, same_pads(20, 4, 2, 1)))
        c = torch.tanh(m["sym"](x))
        d = F.max_pool1d(a, 3, 2, padding=1)
        e = F.avg_pool1d(c, 2)
        f = avgpool1d_inside(c, 3, 2, *same_pads(20, 3, 2, 1))
        g = F.avg_pool1d(a, 4, 2, padding=1, count_include_pad=True)
        h = torch.cat([b, d, e, f, g], 1)
        v = F.max_pool1d(F.pad(m["valid"](h), (0, 1), value=-math.inf), 2)
        w = avgpool1d_inside(h, 3, 1, 2, 0)
        feats = torch.cat([v.amax(2), w.mean(2), h.amax(2)], 1)
        return m["head"](feats)


class Separable(nn.Module):
    """mdlc separable_conv2d (Keras's SeparableConv2D): a depthwise Conv2d
    without bias, then a 1x1 Conv2d with the bias."""

    def __init__(self, cin, cout, kernel, stride=1, multiplier=1):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin * multiplier, kernel, stride=stride, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin * multiplier, cout, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class UpConv(Model):  # testdata/pytorch/upconv.mdl
    """ConvTranspose2d: valid, PyTorch's padding and output_padding,
    TensorFlow's "same" (the full output cropped one cell each side),
    dilated with uneven output_padding; nn.Upsample and F.interpolate in
    each coordinate convention; a separable convolution."""

    def __init__(self):
        super().__init__()
        self.add("valid", nn.ConvTranspose2d(3, 4, 3, stride=2))
        self.add("torch_pad", nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1))
        self.add("same", nn.ConvTranspose2d(3, 4, 4, stride=2, bias=False))
        self.add("dilated", nn.ConvTranspose2d(3, 4, (2, 3), stride=2, dilation=(1, 2), padding=(0, 2), output_padding=(0, 1)))
        self.add("down", Separable(27, 4, 3, stride=2, multiplier=2))
        self.add("head", nn.Linear(120, 6))

    def forward(self, x):  # x: (N, 5, 6, 3)
        m = self.named
        x = nchw(x)
        a = m["valid"](x)
        b = m["torch_pad"](x)
        c = m["same"](x)[:, :, 1:-1, 1:-1]
        d = F.relu(m["dilated"](x))
        u1 = nn.Upsample(scale_factor=2)(x)
        u2 = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        u3 = F.interpolate(x, size=(10, 12), mode="bilinear", align_corners=True)
        u4 = F.interpolate(x, size=(10, 12), mode="nearest-exact")
        # nearest with align_corners: the rounded position o·(in-1)/(out-1).
        rows = torch.round(torch.arange(10, dtype=torch.float64) * 4 / 9 + 1e-9).long()
        cols = torch.round(torch.arange(12, dtype=torch.float64) * 5 / 11 + 1e-9).long()
        u5 = x[:, :, rows][:, :, :, cols]
        s = flatten(F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False))
        h = flatten(torch.tanh(m["down"](torch.cat([b, c, d, u1, u2, u3, u4, u5], 1))))
        return m["head"](torch.cat([h, a.mean(dim=(2, 3)), s], 1))


class UNet(Model):  # stdlib/unet.mdl
    def __init__(self):
        super().__init__()
        for name, cin, cout in [("enc1", 3, 16), ("enc2", 16, 32), ("bottleneck", 32, 64), ("dec2", 64, 32), ("dec1", 32, 16)]:
            self.add(name + ".conv1", Conv(cin, cout, 3, padding="same"))
            self.add(name + ".conv2", Conv(cout, cout, 3, padding="same"))
        self.add("up2", nn.ConvTranspose2d(64, 32, 2, stride=2))
        self.add("up1", Conv(32, 16, 1))
        self.add("head", Conv(16, 2, 1))

    def double_conv(self, name, x):
        m = self.named
        return F.relu(m[name + ".conv2"](F.relu(m[name + ".conv1"](x))))

    def forward(self, x):  # x: (N, 32, 32, 3)
        m = self.named
        e1 = self.double_conv("enc1", nchw(x))
        e2 = self.double_conv("enc2", F.max_pool2d(e1, 2))
        b = self.double_conv("bottleneck", F.max_pool2d(e2, 2))
        d2 = self.double_conv("dec2", torch.cat([m["up2"](b), e2], 1))
        u1 = m["up1"](F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False))
        d1 = self.double_conv("dec1", torch.cat([u1, e1], 1))
        return nhwc(F.softmax(m["head"](d1), 1))


class TextCNN(Model):  # stdlib/textcnn.mdl
    def __init__(self):
        super().__init__()
        self.add("embed", nn.Embedding(1000, 32))
        for k in (3, 4, 5):
            self.add(f"conv{k}", nn.Conv1d(32, 24, k))
        self.add("head", nn.Linear(72, 2))

    def forward(self, ids):  # ids: (N, 64)
        m = self.named
        e = m["embed"](ids).transpose(1, 2)
        feats = [F.relu(m[f"conv{k}"](e)).amax(2) for k in (3, 4, 5)]
        return F.softmax(m["head"](torch.cat(feats, 1)), -1)


class Activations(Model):  # testdata/pytorch/activations.mdl
    def __init__(self):
        super().__init__()
        for name in ["a", "b", "gt", "hs", "ex"]:
            self.add(name, nn.Linear(8, 8))

    def forward(self, x):  # x: (N, 6, 8)
        m = self.named
        h = x * 4 - 2
        a = F.relu6(m["a"](h))
        b = F.hardswish(m["b"](h))
        c = F.elu(a - b / 2 + torch.clamp(h, -1, 1.5), 0.5)
        d = F.mish(F.hardsigmoid(F.silu(F.selu(c))))
        e = torch.erf(F.softsign(F.softplus(torch.clamp(0.2 * h + 0.5, 0, 1))))
        f = F.silu(torch.maximum(h, torch.full_like(h, 0.25)) + torch.minimum(e, torch.zeros_like(e)) * -1.5)
        s = F.gelu(m["gt"](f), approximate="tanh")
        s = F.hardsigmoid(m["hs"](s))
        g = h.abs() + 0.5
        p = g.sqrt() + g.log() - g.rsqrt() + g ** 1.5 + h ** 3 / 8
        q = torch.exp(h / 2) + -e + torch.maximum(d, -h) + torch.exp(m["ex"](h))
        return torch.exp(((d + s) * p - q) / 4)


class Axes(Model):  # testdata/pytorch/axes.mdl
    def __init__(self):
        super().__init__()
        self.gate = self.add("gate", Conv(4, 4, 1))

    def forward(self, x):  # x: (N, 6, 5, 4), NHWC
        h = x * 2 - 1
        g = nhwc(torch.sigmoid(self.gate(nchw(h.mean((1, 2), keepdim=True)))))
        s = h * g
        a = s.sum((3, 1))
        b = s.mean(-1, keepdim=True).squeeze(3)
        c = b.amax(1)
        d = s.amin((1, 2)) + s.amax((1, 2))
        e = s.mean((-2, -1)).unsqueeze(1).squeeze(1)
        m = s.mean((1, 2))
        k = h.argmax(1, keepdim=True).to(h.dtype).sum((1, 2)) / 32
        w = torch.where(h > 0.25, h, s).mean((1, 2))
        f = lambda b: b.to(h.dtype)
        q = f(h <= -0.5) + f(h == h) + f(h != 0.5) + f(h >= 0.75) + f(h < 0) * 2
        t = s[:, :, [3, 0, -1], :].sum((1, 2))
        u = s[torch.arange(s.shape[0])[:, None, None], h.argmax(1)].mean((2, 3, 4))
        return torch.cat([a, c, d, e, m, k, w, q.sum((1, 2)) / 64, t, u], 1)


class MathOps(Model):  # testdata/pytorch/mathops.mdl
    def __init__(self):
        super().__init__()
        for name, i, o in [("q", 8, 12), ("k", 8, 12), ("v", 8, 12), ("gate", 48, 12),
                           ("scale", 12, 1), ("shift", 8, 1), ("out", 18, 6)]:
            self.add(name, nn.Linear(i, o))
        self.add("ln", nn.LayerNorm(12, eps=1e-5))
        self.add("rms", RMSNorm(12, eps=1e-6))
        self.drop = nn.Dropout(0.5)

    def forward(self, x):  # x: (N, 6, 8)
        m = self.named
        q = F.gelu(m["q"](x))
        k = F.gelu(m["k"](x), approximate="tanh")
        v = m["rms"](torch.tanh(m["v"](x)))
        att = F.softmax(q @ k.transpose(1, 2), dim=1)
        h = m["ln"](self.drop(att @ v))
        gate = torch.sigmoid(m["gate"](torch.flatten(x, 1))).reshape(-1, 1, 12)
        scale = torch.sigmoid(m["scale"](h))
        shift = m["shift"](x)
        s = (h * gate) / (scale + gate) - shift
        z = F.leaky_relu(m["out"](s.transpose(1, 2).reshape(-1, 4, 18)), 0.2)
        g = (s.transpose(1, 2) @ v).reshape(-1, 24, 6)
        return F.log_softmax(torch.cat([z, att, g], 1), -1)


class Encoder(Model):  # testdata/pytorch/encoder.mdl
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=False)
        self.layer = layer
        self.named.update({"attn": layer.self_attn, "norm1": layer.norm1, "ff1": layer.linear1,
                           "ff2": layer.linear2, "norm2": layer.norm2})

    def forward(self, x):  # x: (N, T, 32)
        return self.layer(x)


class Packed:
    """Marks an nn.MultiheadAttention exported with packed q, k, v."""

    def __init__(self, attention):
        self.attention = attention


def layer_names(prefix, layer):
    """mdlc's names of an nn.TransformerEncoderLayer's parts."""
    return {prefix + "attn": layer.self_attn, prefix + "norm1": layer.norm1, prefix + "ff1": layer.linear1,
            prefix + "ff2": layer.linear2, prefix + "norm2": layer.norm2}


def causal_mask(t):
    """The additive mask that hides later positions, as mdlc's causal=true."""
    return torch.triu(torch.full((t, t), float("-inf")), 1)


class PreNorm(Model):  # testdata/pytorch/prenorm.mdl
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, activation="relu",
                                                batch_first=True, norm_first=True)
        self.named.update(layer_names("", self.layer))
        self.named["attn"] = Packed(self.layer.self_attn)

    def forward(self, x):  # x: (N, 9, 32)
        return self.layer(x)


class Decoder(Model):  # testdata/pytorch/decoder.mdl
    def __init__(self):
        super().__init__()
        self.blocks = self.layers("block", 2, norm_first=True)
        self.add("norm", nn.LayerNorm(32, eps=1e-5))

    def forward(self, x):  # x: (N, 8, 32)
        t, d = x.shape[1], x.shape[2]
        # The sinusoidal encoding, as in PyTorch's tutorial (mdlc's positional).
        pos = torch.arange(t, dtype=x.dtype).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2, dtype=x.dtype) * (-math.log(10000.0) / d))
        pe = torch.zeros(t, d, dtype=x.dtype)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        x = x + pe
        mask = causal_mask(t).to(x.dtype)
        for b in self.blocks:
            x = b(x, src_mask=mask)
        return self.named["norm"](x)


class MHA(Model):  # testdata/pytorch/mha.mdl
    def __init__(self):
        super().__init__()
        self.add("attn", nn.MultiheadAttention(16, 2, batch_first=True))

    def forward(self, x):  # x: (N, 6, 16)
        y, _ = self.named["attn"](x, x, x, attn_mask=causal_mask(x.shape[1]).to(x.dtype), need_weights=False)
        return y


class Recurrent(Model):  # testdata/pytorch/recurrent.mdl
    def __init__(self):
        super().__init__()
        self.add("rnn", nn.RNN(6, 8, nonlinearity="relu", batch_first=True))
        self.add("lstm", nn.LSTM(8, 8, bidirectional=True, batch_first=True))
        self.add("gru", nn.GRU(16, 8, batch_first=True))
        self.add("lstm_last", nn.LSTM(6, 8, batch_first=True))
        self.add("bigru", nn.GRU(6, 4, bidirectional=True, batch_first=True))
        self.add("init", nn.Linear(6, 8))
        self.add("lstm_init", nn.LSTM(6, 8, batch_first=True))
        self.add("gru_init", nn.GRU(6, 8, batch_first=True))

    def forward(self, x):  # x: (N, 7, 6)
        m = self.named
        a, _ = m["rnn"](x)
        b, _ = m["lstm"](a)
        _, c = m["gru"](b)
        _, (d, _) = m["lstm_last"](x)
        _, e = m["bigru"](x)
        first, rest = torch.split(x, [1, 6], dim=1)
        s = torch.tanh(m["init"](first.reshape(-1, 6))).unsqueeze(0)
        _, (f, _) = m["lstm_init"](rest, (s, s))
        _, g = m["gru_init"](rest, s)
        return torch.cat([c[-1], d[-1], torch.cat([e[0], e[1]], -1), f[-1], g[-1]], -1)


class GPT(Model):  # testdata/pytorch/gpt.mdl
    def __init__(self):
        super().__init__()
        self.add("tok", nn.Embedding(50, 32))
        self.add("pos", Positions(16, 32))
        self.blocks = self.layers("block", 2, norm_first=True)
        self.add("norm", nn.LayerNorm(32, eps=1e-5))
        self.add("head", nn.Linear(32, 50, bias=False))

    def forward(self, ids):  # ids: (N, 8) int64
        m = self.named
        x = m["pos"](m["tok"](ids))
        mask = causal_mask(ids.shape[1]).to(x.dtype)
        for b in self.blocks:
            x = b(x, src_mask=mask)
        return m["head"](m["norm"](x))


class BERT(Model):  # testdata/pytorch/bert.mdl
    def __init__(self):
        super().__init__()
        self.add("tok", nn.Embedding(40, 32))
        self.add("pos", Positions(10, 32))
        self.add("emb_norm", nn.LayerNorm(32, eps=1e-12))
        self.blocks = self.layers("layer", 2, norm_first=False)
        self.add("pooler", nn.Linear(32, 32))
        self.add("classifier", nn.Linear(32, 3))

    def forward(self, ids):  # ids: (N, 10) int64, padded with 0
        m = self.named
        x = m["emb_norm"](m["pos"](m["tok"](ids)))
        pad = ids == 0
        for layer in self.blocks:
            x = layer(x, src_key_padding_mask=pad)
        return F.softmax(m["classifier"](torch.tanh(m["pooler"](x[:, 0]))), -1)


def token_ids(shape, vocab, lengths=None):
    """Random ids in 1..vocab-1; row i padded with 0 after lengths[i]."""
    ids = torch.randint(1, vocab, shape, dtype=torch.int64)
    for i, n in enumerate(lengths or []):
        ids[i, n:] = 0
    return ids


# name: (.mdl file, model class, input shape or input maker, seed)
MODELS = {
    "cnn": ("stdlib/cnn.mdl", CNN, (2, 32, 32, 3), 1),
    "lenet": ("stdlib/lenet.mdl", LeNet, (3, 28, 28, 1), 2),
    "mlp": ("stdlib/mlp.mdl", MLP, (2, 28, 28, 1), 3),
    "resnet": ("stdlib/resnet.mdl", ResNet, (2, 32, 32, 3), 4),
    "convops": ("testdata/pytorch/convops.mdl", ConvOps, (3, 15, 13, 3), 5),
    "padding": ("testdata/pytorch/padding.mdl", Padding, (2, 16, 14, 3), 14),
    "mathops": ("testdata/pytorch/mathops.mdl", MathOps, (3, 6, 8), 6),
    "activations": ("testdata/pytorch/activations.mdl", Activations, (3, 6, 8), 14),
    "axes": ("testdata/pytorch/axes.mdl", Axes, (3, 6, 5, 4), 15),
    "encoder": ("testdata/pytorch/encoder.mdl", Encoder, (2, 9, 32), 7),
    "recurrent": ("testdata/pytorch/recurrent.mdl", Recurrent, (3, 7, 6), 8),
    "prenorm": ("testdata/pytorch/prenorm.mdl", PreNorm, (2, 9, 32), 9),
    "decoder": ("testdata/pytorch/decoder.mdl", Decoder, (2, 8, 32), 10),
    "mha": ("testdata/pytorch/mha.mdl", MHA, (3, 6, 16), 11),
    "gpt": ("testdata/pytorch/gpt.mdl", GPT, lambda: token_ids((2, 8), 50), 12),
    "bert": ("testdata/pytorch/bert.mdl", BERT, lambda: token_ids((3, 10), 40, [10, 6, 3]), 13),
    "seqconv": ("testdata/pytorch/seqconv.mdl", SeqConv, (3, 20, 6), 15),
    "upconv": ("testdata/pytorch/upconv.mdl", UpConv, (2, 5, 6, 3), 16),
    "unet": ("stdlib/unet.mdl", UNet, (2, 32, 32, 3), 17),
    "textcnn": ("stdlib/textcnn.mdl", TextCNN, lambda: token_ids((3, 64), 1000), 18),
}


# The floor of the relative error, as a fraction of max|want|, that
# cmd/mdlc/pytorch_test.go uses (pytorchFloor).
FLOOR = 1e-2


def rel_err(got, want, floor):
    """tensor.MaxRelErr: max |got - want| / max(|want|, floor)."""
    got, want = got.astype(np.float64), want.astype(np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), floor)))


def main():
    torch.set_num_threads(1)  # a fixed summation order
    # Arguments name the fixtures to rewrite; none, all of them.
    only = sys.argv[1:]
    for name, (mdl, cls, shape, seed) in MODELS.items():
        if only and name not in only:
            continue
        # pytorch_test.go finds the model by the fixture's name.
        assert mdl in (f"stdlib/{name}.mdl", f"testdata/pytorch/{name}.mdl"), name
        assert os.path.exists(os.path.join(ROOT, mdl)), mdl
        torch.manual_seed(seed)
        model = cls().randomize().eval()
        weights = export(model.named)
        n_params = sum(p.numel() for p in model.parameters())
        n_buffers = sum(b.numel() for k, b in model.named_buffers() if "running" in k)
        assert sum(w.size for w in weights.values()) == n_params + n_buffers, name
        x = shape() if callable(shape) else torch.rand(shape, dtype=torch.float32)
        ints = not x.is_floating_point()

        with torch.no_grad():
            want = model.double()(x if ints else x.double()).numpy()
            # float32 PyTorch against the float64 oracle: how much error plain
            # float32 arithmetic makes on this model, for comparison with mdlc.
            f32 = model.float()(x).numpy()
        out = want.astype(np.float32)
        scale = float(np.max(np.abs(out)))

        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "weights.safetensors"), weights)
        # Token ids as the model declares them: i64, or i32 (bert, textcnn).
        np.save(os.path.join(d, "input.npy"), x.numpy().astype(np.int32) if name in ("bert", "textcnn") else x.numpy())
        np.save(os.path.join(d, "output.npy"), out)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        errs = ", ".join(f"{rel_err(f32, want, fl * scale):.1e}" for fl in (FLOOR, 1e-3, 0))
        print(f"{name:8s} {str(tuple(out.shape)):12s} {size / 1024:6.1f} KiB   "
              f"float32 PyTorch's MaxRelErr, floor {FLOOR:g}·max|want|, 1e-3·max, 0: {errs}")


if __name__ == "__main__":
    main()
