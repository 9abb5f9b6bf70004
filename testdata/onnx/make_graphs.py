"""Writes hand-built ONNX graphs (python3-onnx's helper) of the ops and
patterns that exporters other than PyTorch 1.13's emit, often at old opsets,
with an input and the output PyTorch's functional ops compute for them:

    python3 make_graphs.py OUT_DIR

Each graph NAME gives NAME.onnx, NAME_input.npy and NAME_output.npy, as
export_models.py's models do, for cmd/mdlc's TestONNXModels."""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper

out = sys.argv[1]
rng = np.random.RandomState(1)


def save(name, nodes, x, y, inits, opset, out_shape=None):
    init = [helper.make_tensor(k, TensorProto.INT64 if v.dtype == np.int64 else TensorProto.FLOAT, v.shape, v.flatten().tolist())
            for k, v in inits.items()]
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(out_shape or y.shape))], init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_graphs.py")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name + ".onnx"))
    np.save(os.path.join(out, name + "_input.npy"), x.astype(np.float32))
    np.save(os.path.join(out, name + "_output.npy"), np.asarray(y, dtype=np.float32))


def t(a):
    return torch.from_numpy(a.astype(np.float64))


x = rng.randn(2, 3, 6, 5)
w = rng.randn(4, 3, 3, 3) * 0.3
b = rng.randn(4) * 0.1

# Clip with attributes (opset < 11) after a convolution: relu6 as Keras and
# TensorFlow exporters write it, and a clip of other bounds.
y = F.conv2d(t(x), t(w), t(b), padding=1).clamp(0, 6).clamp(-0.5, 0.7).numpy()
save("clip_attrs", [
    helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    helper.make_node("Clip", ["c"], ["r"], min=0.0, max=6.0),
    helper.make_node("Clip", ["r"], ["output"], min=-0.5, max=0.7),
], x, y, {"w": w, "b": b}, 9)

# HardSigmoid with Keras's alpha 0.2, and x·HardSigmoid(x) with PyTorch's
# 1/6: hard-swish.
hs = np.clip(0.2 * x + 0.5, 0, 1)
y = x * np.clip(x / 6 + 0.5, 0, 1) + hs
save("hardsigmoid", [
    helper.make_node("HardSigmoid", ["input"], ["h"], alpha=0.2, beta=0.5),
    helper.make_node("HardSigmoid", ["input"], ["g"], alpha=1 / 6, beta=0.5),
    helper.make_node("Mul", ["input", "g"], ["s"]),
    helper.make_node("Add", ["s", "h"], ["output"]),
], x, y, {}, 14)

# Upsample: opset 7's scales attribute, opset 9's scales input.
y = F.interpolate(t(x), scale_factor=2, mode="nearest").numpy()
save("upsample7", [helper.make_node("Upsample", ["input"], ["output"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])], x, y, {}, 7)
save("upsample9", [helper.make_node("Upsample", ["input", "scales"], ["output"], mode="nearest")], x, y,
     {"scales": np.array([1, 1, 2, 2], dtype=np.float32)}, 9)

# Resize's modes: linear with half-pixel centres (PyTorch's bilinear),
# linear with aligned corners, nearest as TensorFlow's asymmetric floor.
for name, mode, ctm, kw in [
        ("resize_linear", "linear", "half_pixel", dict(mode="bilinear", align_corners=False)),
        ("resize_align_corners", "linear", "align_corners", dict(mode="bilinear", align_corners=True)),
        ("resize_nearest", "nearest", "asymmetric", dict(mode="nearest"))]:
    y = F.interpolate(t(x), size=(9, 10), **kw).numpy()
    save(name, [helper.make_node("Resize", ["input", "", "", "sizes"], ["output"], mode=mode,
                                 coordinate_transformation_mode=ctm, nearest_mode="floor")], x, y,
         {"sizes": np.array([2, 3, 9, 10], dtype=np.int64)}, 13)

# ConvTranspose with output padding, as PyTorch's ConvTranspose2d(3, 4, 3,
# stride=2, padding=1, output_padding=1) doubles a size.
wt = rng.randn(3, 4, 3, 3) * 0.3
y = F.conv_transpose2d(t(x), t(wt), t(b), stride=2, padding=1, output_padding=1).numpy()
save("convtranspose_output_padding", [
    helper.make_node("ConvTranspose", ["input", "w", "b"], ["output"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
], x, y, {"w": wt, "b": b}, 11)

# PRelu with a slope per channel.
slope = rng.rand(3, 1, 1) * 0.5
y = np.where(x > 0, x, x * slope)
save("prelu", [helper.make_node("PRelu", ["input", "slope"], ["output"])], x, y, {"slope": slope}, 9)

# tf2onnx's NHWC graph: the input NHWC, transposed to NCHW around the
# convolution and back.
xh = x.transpose(0, 2, 3, 1)
y = F.relu(F.conv2d(t(x), t(w), t(b), padding=1)).numpy().transpose(0, 2, 3, 1)
save("tf_nhwc", [
    helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
    helper.make_node("Conv", ["nchw", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c"], ["r"]),
    helper.make_node("Transpose", ["r"], ["output"], perm=[0, 2, 3, 1]),
], xh, y, {"w": w, "b": b}, 13)

# A flattened feature map into a dense layer (Gemm with transB, as PyTorch
# exports nn.Linear, and MatMul): the importer flattens the NHWC map as it
# lies and permutes the kernel's rows instead of transposing the map back.
wg = rng.randn(7, 120) * 0.2
feat = F.relu(F.conv2d(t(x), t(w), t(b), padding=1)).flatten(1)
y = (feat @ t(wg).T + t(b[:1])).numpy()
save("flatten_gemm", [
    helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c"], ["r"]),
    helper.make_node("Flatten", ["r"], ["f"]),
    helper.make_node("Gemm", ["f", "wg", "bg"], ["output"], transB=1),
], x, y, {"w": w, "b": b, "wg": wg, "bg": b[:1]}, 13)
y = (feat @ t(wg).T).numpy()
save("flatten_matmul", [
    helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["c"], ["r"]),
    helper.make_node("Flatten", ["r"], ["f"]),
    helper.make_node("MatMul", ["f", "wm"], ["output"]),
], x, y, {"w": w, "b": b, "wm": np.ascontiguousarray(wg.T)}, 13)
