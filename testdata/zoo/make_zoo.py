#!/usr/bin/python3
"""Writes the oracle of one model of mdlc's zoo (stdlib/<model>.mdl) from
torchvision 0.14, for cmd/mdlc/zoo_test.go, which runs it into a cache
directory (the files are large: never commit them).

    make_zoo.py MODEL SUMMARY.json OUTDIR [--batch B] [--seed S]

builds torchvision.models.MODEL with seeded random weights AND random
batch-norm statistics and affine parameters (with the default statistics,
mean 0 and variance 1, batch norm is nearly the identity and hides a wrong
epsilon or a layer left out), and writes into OUTDIR:

  weights.safetensors  the weights under mdlc's names, in mdlc's layouts
  input.npy            float32 NHWC input, uniform in [0, 1)
  output64.npy         torchvision's logits in float64 (the oracle)
  output32.npy         torchvision's logits in float32, whose error against
                       the oracle is what float32 costs PyTorch itself

SUMMARY.json is `mdlc summary --json stdlib/MODEL.mdl`. Weights are matched
by order: the layers with parameters as mdlc lists them (source order), and
torchvision's Conv2d, BatchNorm2d and Linear modules in the order its forward
calls them; each pair must agree on the layer kind and parameter count.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from make_fixtures import write_safetensors  # noqa: E402


def randomize(model):
    """He-uniform weights, biases in [-0.2, 0.2], and batch norm with
    gamma in [0.5, 1.5], beta and running mean in [-0.5, 0.5] and running
    variance in [0.5, 2]."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                b = math.sqrt(6 / m.weight[0].numel())
                m.weight.uniform_(-b, b)
                if m.bias is not None:
                    m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def call_order(model, x):
    """The parametrised modules in the order forward calls them, each with
    the shape of the feature map last pooled before it (the classifier's
    input before torch.flatten)."""
    order, hooks, pooled = [], [], [None]
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            hooks.append(m.register_forward_hook(lambda m, i, o: order.append((m, pooled[0]))))
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            hooks.append(m.register_forward_hook(lambda m, i, o: pooled.__setitem__(0, o.shape)))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return order


def count(m):
    n = sum(p.numel() for p in m.parameters())
    if isinstance(m, nn.BatchNorm2d):
        n += m.running_mean.numel() + m.running_var.numel()
    return n


def convert(layer, m, pooled):
    """One torch module's parameters under mdlc's names and layouts."""
    name, kind, out = layer["name"], layer["type"], {}
    if kind == "batchnorm":
        assert isinstance(m, nn.BatchNorm2d)
        out = {"gamma": m.weight, "beta": m.bias, "moving_mean": m.running_mean, "moving_variance": m.running_var}
    elif kind == "conv2d":
        assert isinstance(m, nn.Conv2d) and m.groups == 1
        out["kernel"] = m.weight.permute(2, 3, 1, 0)  # OIHW -> HWIO
    elif kind == "depthwise_conv2d":
        assert isinstance(m, nn.Conv2d) and m.groups == m.in_channels == m.out_channels
        k = m.weight.permute(2, 3, 1, 0)  # (C, 1, kh, kw) -> (kh, kw, 1, C)
        out["kernel"] = k.reshape(k.shape[0], k.shape[1], m.in_channels, 1)
    elif kind == "dense":
        w = m.weight
        if isinstance(m, nn.Conv2d):  # squeeze-and-excitation's 1x1 convolutions
            assert m.kernel_size == (1, 1)
            w = w[:, :, 0, 0]
        elif pooled is not None and math.prod(pooled[1:]) == m.in_features:
            # A flattened NCHW feature map: torch flattens (C, H, W), mdlc
            # flattens NHWC as (H, W, C).
            _, c, h, wd = pooled
            w = w.reshape(w.shape[0], c, h, wd).permute(0, 2, 3, 1).reshape(w.shape[0], -1)
        out["kernel"] = w.t()
    else:
        raise TypeError(f"{name}: no conversion for mdlc's {kind}")
    if kind != "batchnorm" and m.bias is not None:
        out["bias"] = m.bias
    return {f"{name}.{k}": v.detach().numpy().astype(np.float32) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("summary")
    ap.add_argument("outdir")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    with open(a.summary) as f:
        summary = json.load(f)
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.model)(weights=None).eval()
    randomize(model)
    x = torch.rand(a.batch, 224, 224, 3)  # NHWC
    nchw = x.permute(0, 3, 1, 2).contiguous()

    layers = [l for l in summary["layers"] if l["params"] > 0]
    order = call_order(model, nchw[:1])
    if len(layers) != len(order):
        sys.exit(f"{a.model}: mdlc has {len(layers)} layers with parameters, torchvision {len(order)}")
    tensors = {}
    for l, (m, pooled) in zip(layers, order):
        if l["params"] != count(m):
            sys.exit(f"{a.model}: mdlc's {l['name']} ({l['type']}) has {l['params']} parameters, torchvision's {m} {count(m)}")
        tensors.update(convert(l, m, pooled))

    os.makedirs(a.outdir, exist_ok=True)
    with torch.no_grad():
        out32 = model(nchw).numpy()
        out64 = model.double()(nchw.double()).numpy()
    write_safetensors(os.path.join(a.outdir, "weights.safetensors"), tensors)
    np.save(os.path.join(a.outdir, "input.npy"), x.numpy())
    np.save(os.path.join(a.outdir, "output64.npy"), out64)
    np.save(os.path.join(a.outdir, "output32.npy"), out32)


if __name__ == "__main__":
    main()
