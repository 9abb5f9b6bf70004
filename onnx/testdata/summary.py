# Prints, as JSON, what onnx's own Python decoder (the oracle of
# TestAgainstPythonONNX) sees in each model named on stdin: the fields the Go
# decoder keeps, and tensors as their count, type and a checksum of values.
import json, sys
import numpy as np
import onnx
from onnx import numpy_helper, TensorProto

FLOATS = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
INTS = {TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.UINT16,
        TensorProto.INT8, TensorProto.UINT8, TensorProto.BOOL}

def tensor(t):
    out = {"name": t.name, "dims": list(t.dims), "type": t.data_type}
    if t.data_type in FLOATS or t.data_type in INTS:
        a = numpy_helper.to_array(t)
        if t.data_type in FLOATS:
            bits = a.astype(np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
        else:
            bits = a.astype(np.int64).reshape(-1).view(np.uint64)
        out["n"] = int(bits.size)
        out["sum"] = str(int(bits.sum(dtype=np.uint64)))
    return out

def typ(t):
    k = t.WhichOneof("value")
    if k == "tensor_type":
        s = "tensor(%d)" % t.tensor_type.elem_type
        if t.tensor_type.HasField("shape"):
            dims = []
            for d in t.tensor_type.shape.dim:
                w = d.WhichOneof("value")
                dims.append(d.dim_param if w == "dim_param" else str(d.dim_value) if w == "dim_value" else "?")
            s += "[" + ",".join(dims) + "]"
        return s
    if k == "sequence_type":
        return "seq(" + typ(t.sequence_type.elem_type) + ")"
    if k == "map_type":
        return "map(%d,%s)" % (t.map_type.key_type, typ(t.map_type.value_type))
    if k == "optional_type":
        return "optional(" + typ(t.optional_type.elem_type) + ")"
    return k or "none"

def value(v):
    return {"name": v.name, "type": typ(v.type) if v.HasField("type") else "none"}

def attr(a):
    out = {"name": a.name, "type": a.type, "f": float(a.f), "i": a.i, "s": a.s.hex(),
           "floats": [float(x) for x in a.floats], "ints": list(a.ints),
           "strings": [s.hex() for s in a.strings]}
    if a.HasField("t"):
        out["t"] = tensor(a.t)
    if a.HasField("g"):
        out["g"] = graph(a.g)
    out["tensors"] = [tensor(t) for t in a.tensors]
    out["graphs"] = [graph(g) for g in a.graphs]
    return out

def graph(g):
    return {
        "name": g.name,
        "nodes": [{"name": n.name, "op": n.op_type, "domain": n.domain, "in": list(n.input),
                   "out": list(n.output), "attrs": [attr(a) for a in n.attribute]} for n in g.node],
        "inits": [tensor(t) for t in g.initializer],
        "inputs": [value(v) for v in g.input],
        "outputs": [value(v) for v in g.output],
        "value_info": [value(v) for v in g.value_info],
    }

res = {}
for path in sys.stdin.read().split():
    m = onnx.load(path)
    res[path] = {"ir": m.ir_version, "producer": m.producer_name,
                 "opsets": [[o.domain, o.version] for o in m.opset_import],
                 "graph": graph(m.graph)}
json.dump(res, sys.stdout)
