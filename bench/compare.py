#!/usr/bin/python3
"""Times the same models in mdlc, ONNX Runtime and PyTorch and prints a table
of median latencies and ratios (mdlc also on the ONNX file ORT runs, through
its importer). Run through bench/run.sh, which installs the
peers first; see bench/README.md.

  compare.py [--rounds R] [--seconds S] [--warmup W] [--threads 1,2] [--cases ...]

Each measurement is a fresh process (so no runtime's threads idle beside
another's) that warms up, then times runs for S seconds (at least 5) and
reports its median. The frameworks take turns, in a rotating order, R rounds
over; a table entry is the median of the R per-process medians, so that a
burst of load from other tenants of the machine lands in one round, not in
one framework. The worker modes (export, torch) are run by this script.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work")
MDLC = os.path.join(WORK, "mdlc")
OPENBLAS = os.path.join(WORK, "openblas", "usr", "lib", "x86_64-linux-gnu", "openblas-openmp")

# The models, as mdlc files and as the same layers in torch.nn (NCHW, as
# PyTorch and the exported ONNX run them; mdlc runs NHWC). The torchvision
# cases run torchvision.models.<case> (random weights, eval mode) in the
# peers; a case whose .mdl file is absent is skipped.
CASES = {
    "cnn224-b1": dict(title="seed CNN 224x224x3, batch 1", mdl="stdlib/cnn224.mdl", batch=1, size=224),
    "cnn32-b32": dict(title="seed CNN 32x32x3, batch 32", mdl="stdlib/cnn.mdl", batch=32, size=32),
    "sgemm1024": dict(title="SGEMM 1024^3 (A*B, both inputs)", mdl="bench/sgemm.mdl", batch=None, n=1024),
    "lstm-b8": dict(title="LSTM classifier, batch 8, T=64, 64 in, 256 hidden", mdl="stdlib/lstm.mdl", batch=8, seq=[64, 64]),
    "encoder-t128": dict(title="Transformer encoder layer, T=128, d 256, 4 heads, ff 1024", mdl="stdlib/transformer.mdl",
                         batch=1, seq=[128, 256]),
    "bert-b8": dict(title="BERT-style classifier, batch 8, 128 ids, d 128, 2 layers", mdl="stdlib/bert.mdl",
                    batch=8, ids=[128], vocab=2048),
    "gpt-t128": dict(title="GPT-style LM, batch 1, T=128, d 128, 4 blocks, vocab 2048", mdl="stdlib/gpt.mdl",
                     batch=1, ids=[128], vocab=2048, dims="T=128"),
    "mobilenet_v2": dict(title="MobileNetV2 224x224x3, batch 1", mdl="stdlib/mobilenet_v2.mdl", batch=1, size=224,
                         torchvision=True),
    "mobilenet_v3_small": dict(title="MobileNetV3-small 224x224x3, batch 1", mdl="stdlib/mobilenet_v3_small.mdl", batch=1,
                               size=224, torchvision=True),
    "efficientnet_b0": dict(title="EfficientNet-B0 224x224x3, batch 1", mdl="stdlib/efficientnet_b0.mdl", batch=1, size=224,
                            torchvision=True),
    "resnet18": dict(title="ResNet-18 224x224x3, batch 1", mdl="stdlib/resnet18.mdl", batch=1, size=224, torchvision=True),
    "resnet50": dict(title="ResNet-50 224x224x3, batch 1", mdl="stdlib/resnet50.mdl", batch=1, size=224, torchvision=True),
}
# mdlc-onnx is mdlc running the ONNX file ORT runs, through its importer.
FRAMEWORKS = ["mdlc", "mdlc-onnx", "ort", "torch"]


def input_shapes(case):
    c = CASES[case]
    if "n" in c:
        return {"a": [c["n"], c["n"]], "b": [c["n"], c["n"]]}
    if "seq" in c:
        return {"x": [c["batch"]] + c["seq"]}
    if "ids" in c:
        return {"ids": [c["batch"]] + c["ids"]}
    return {"image": [c["batch"], 3, c["size"], c["size"]]}


def inputs(case):
    """Random inputs of the case: uniform in [0, 1), or token ids in
    1..vocab-1 (no padding)."""
    import torch

    c = CASES[case]
    if "ids" in c:
        return [torch.randint(1, c["vocab"], s) for s in input_shapes(case).values()]
    return [torch.rand(s) for s in input_shapes(case).values()]


def torch_model(case):
    import torch
    import torch.nn as nn

    c = CASES[case]
    if "n" in c:
        class MatMul(nn.Module):
            def forward(self, a, b):
                return torch.matmul(a, b)
        return MatMul().eval()
    if case == "lstm-b8":
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(64, 256, batch_first=True)
                self.dense = nn.Linear(256, 10)

            def forward(self, x):
                _, (h, _) = self.lstm(x)
                return torch.softmax(self.dense(h[-1]), -1)
        return Classifier().eval()
    if case == "encoder-t128":
        # Timed under inference_mode, PyTorch runs its fused fast path.
        return nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, dropout=0.0, activation="gelu",
                                          batch_first=True).eval()
    if case in ("bert-b8", "gpt-t128"):
        gpt = case == "gpt-t128"

        class Tokens(nn.Module):
            """stdlib/bert.mdl (padding mask, post-norm, pooler) or
            stdlib/gpt.mdl (causal, pre-norm, logits)."""

            def __init__(self):
                super().__init__()
                self.tok = nn.Embedding(2048, 128)
                self.pos = nn.Parameter(torch.rand(256 if gpt else 128, 128))
                self.blocks = nn.ModuleList(
                    nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=gpt) for _ in range(4 if gpt else 2))
                self.norm = nn.LayerNorm(128, eps=1e-5 if gpt else 1e-12)
                if gpt:
                    self.head = nn.Linear(128, 2048, bias=False)
                else:
                    self.pooler, self.classifier = nn.Linear(128, 128), nn.Linear(128, 2)

            def forward(self, ids):
                t = ids.shape[1]
                x = self.tok(ids) + self.pos[:t]
                if gpt:
                    mask = torch.triu(torch.full((t, t), float("-inf")), 1)
                    for b in self.blocks:
                        x = b(x, src_mask=mask)
                    return self.head(self.norm(x))
                x, pad = self.norm(x), ids == 0
                for b in self.blocks:
                    x = b(x, src_key_padding_mask=pad)
                return torch.softmax(self.classifier(torch.tanh(self.pooler(x[:, 0]))), -1)
        return Tokens().eval()
    if c.get("torchvision"):
        import torchvision

        return getattr(torchvision.models, case)().eval()
    # The seed's Keras CNN: "valid" 3x3 convolutions, 2x2 max pools.
    side = ((c["size"] - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 10), nn.Softmax(dim=1),
    ).eval()


def export(cases):
    """Writes .work/<case>.onnx for the cases given; prints each model's
    parameter count, which the driver checks against mdlc's."""
    import torch

    params = {}
    for case in cases:
        m = torch_model(case)
        shapes = input_shapes(case)
        args = tuple(inputs(case))
        # With gradients on, PyTorch's encoder layer takes its standard
        # modules, which export; its fused fast path does not.
        with torch.enable_grad() if case in ("encoder-t128", "bert-b8", "gpt-t128") else torch.no_grad():
            # Opset 14 for the causal mask's triu.
            torch.onnx.export(m, args, os.path.join(WORK, case + ".onnx"), opset_version=14 if case == "gpt-t128" else 13,
                              input_names=list(shapes), output_names=["out"])
        # Batch norm's statistics count, as in mdlc's total.
        params[case] = sum(p.numel() for p in m.parameters()) + sum(
            b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))
    print(json.dumps(params))


def timed(run, seconds, warmup):
    """Runs run() warmup times, then times it for seconds (at least 5 runs)."""
    for _ in range(warmup):
        run()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "runs": len(times)}


def torch_worker(case, threads, seconds, warmup):
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    xs = inputs(case)
    if "n" in CASES[case]:
        # Into a preallocated result, as mdlc's plan writes its output.
        out = torch.empty(xs[0].shape[0], xs[1].shape[1])
        run = lambda: torch.mm(xs[0], xs[1], out=out)  # noqa: E731
    else:
        m = torch_model(case)
        run = lambda: m(*xs)  # noqa: E731
    with torch.inference_mode():
        r = timed(run, seconds, warmup)
    # Which BLAS the matrix products ran on: Debian's default is the
    # reference one, 25x slower than OpenBLAS.
    with open("/proc/self/maps") as f:
        r["blas"] = "openblas" if "openblas" in f.read() else "system libblas"
    print(json.dumps(r))


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return json.loads(p.stdout)


def measure(fw, case, threads, args, peak):
    c = CASES[case]
    if fw == "mdlc":
        cmd = [MDLC, "bench", "--json", "--time", "%gs" % args.seconds, "--warmup", str(args.warmup),
               "--threads", str(threads), c["mdl"]]
        # The peak measured once; mdlc bench measures it for other counts.
        if threads in peak:
            cmd += ["--peak-gflops", str(peak[threads])]
        if c["batch"]:
            cmd += ["--batch", str(c["batch"])]
        if "dims" in c:
            cmd += ["--dim", c["dims"]]
        return run_json(cmd)
    if fw == "mdlc-onnx":
        cmd = [MDLC, "bench", "--json", "--time", "%gs" % args.seconds, "--warmup", str(args.warmup),
               "--threads", str(threads), os.path.join(WORK, case + ".onnx")]
        if threads in peak:
            cmd += ["--peak-gflops", str(peak[threads])]
        return run_json(cmd)
    if fw == "ort":
        # Token ids go in as int64, in 1..vocab-1.
        feeds = {k: {"shape": v, "ids": c.get("vocab", 0)} for k, v in input_shapes(case).items()}
        return run_json(["node", os.path.join(HERE, "ort.js"), os.path.join(WORK, case + ".onnx"), str(threads),
                         str(args.seconds), str(args.warmup), json.dumps(feeds)])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    if os.path.isdir(OPENBLAS):
        env["LD_LIBRARY_PATH"] = OPENBLAS
    return run_json([sys.executable, __file__, "torch", case, str(threads), str(args.seconds), str(args.warmup)], env)


def fma_peak():
    """The FMA peak of one thread and of all, if assembly measured it: scalar
    Go's rate is no peak."""
    p = run_json([MDLC, "bench", "--peak", "--json"])
    if p["kernel"] == "generic":
        return {}
    return {1: p["peak_gflops"], p["all_threads"]: p["peak_gflops_all"]}


def add_peak(peak, measured):
    for t, g in measured.items():
        peak[t] = max(peak.get(t, 0), g)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    env = subprocess.run([MDLC, "env"], capture_output=True, text=True, check=True).stdout
    return model, env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3, help="timed seconds per measurement")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    cases = args.cases.split(",")
    for c in cases:
        if c not in CASES:
            sys.exit("unknown case %s; cases: %s" % (c, ", ".join(CASES)))
    for c in [c for c in cases if not os.path.exists(os.path.join(ROOT, CASES[c]["mdl"]))]:
        print("bench: skipping %s: %s does not exist" % (c, CASES[c]["mdl"]), file=sys.stderr)
        cases.remove(c)
    if not cases:
        sys.exit("bench: no case to run")

    started = datetime.datetime.now(datetime.timezone.utc)
    load = [os.getloadavg()[0]]

    # The peers must run the model mdlc runs: same parameter counts.
    torch_params = run_json([sys.executable, __file__, "export", ",".join(cases)])
    flops = {}
    for case in cases:
        dims = ["--dim", CASES[case]["dims"]] if "dims" in CASES[case] else []
        s = run_json([MDLC, "summary", "--json", CASES[case]["mdl"]] + dims)
        if s["total_params"] != torch_params[case]:
            sys.exit("%s: mdlc has %d parameters, the PyTorch model %d" % (case, s["total_params"], torch_params[case]))
        flops[case] = s["flops_per_example"] * (CASES[case]["batch"] or 1)

    results = {}  # (case, threads, fw) -> per-round results
    order = FRAMEWORKS[:]
    peak = {}  # threads -> GFLOP/s, the best seen: load only ever lowers it
    for rnd in range(args.rounds):
        add_peak(peak, fma_peak())
        for case in cases:
            for t in threads:
                for fw in order:
                    r = measure(fw, case, t, args, peak)
                    results.setdefault((case, t, fw), []).append(r)
                    if fw == "mdlc" and "peak_gflops" in r:
                        add_peak(peak, {t: r["peak_gflops"]})
                    print("round %d/%d  %-10s %d thread(s)  %-9s %9.3f ms" % (rnd + 1, args.rounds, case, t, fw, r["median_ms"]),
                          file=sys.stderr, flush=True)
                order = order[1:] + order[:1]

    load.append(os.getloadavg()[0])
    model, env = machine()
    med = {k: statistics.median(r["median_ms"] for r in v) for k, v in results.items()}
    blas = results[(cases[0], threads[0], "torch")][0]["blas"]
    print("mdlc vs ONNX Runtime vs PyTorch, %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    print("machine: %s, %d CPUs, %s %s, Python %s" % (model, os.cpu_count(), platform.system(), platform.release(), platform.python_version()))
    print(env.rstrip())
    print("mdlc:       %s" % revision())
    print("load:       1-minute load average %.2f at the start, %.2f at the end" % tuple(load))
    print("peers:      ONNX Runtime %s (onnxruntime-node, CPU EP), PyTorch %s (%s)" % (ort_version(), torch_version(), blas))
    print("FMA peak:   %s (mdlc bench --peak)" % (", ".join("%.1f GFLOP/s on %d thread(s)" % (peak[t], t) for t in threads if t in peak) or "unknown"))
    print("method:     median of %d rounds, each the median of a fresh process's runs over %gs after %d warm-up runs;"
          % (args.rounds, args.seconds, args.warmup))
    print("            ratio = mdlc median / peer median (below 1: mdlc faster)")
    print("command:    bench/run.sh %s" % " ".join(sys.argv[1:]))
    print()
    print("| case | threads | mdlc ms | mdlc .onnx ms | ORT ms | PyTorch ms | mdlc/ORT | mdlc .onnx/ORT | mdlc/PyTorch | mdlc GFLOP/s | mdlc % peak | ORT GFLOP/s | PyTorch GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        for t in threads:
            m, mo, o, pt = (med[(case, t, fw)] for fw in FRAMEWORKS)
            g = lambda ms: flops[case] / ms / 1e6  # noqa: E731
            # % of peak counts what mdlc's kernels execute: Winograd runs
            # fewer FLOPs than the graph's, whose rate can pass the peak.
            executed = results[(case, t, "mdlc")][0]["executed_flops"]
            pct = "%.1f%%" % (100 * executed / m / 1e6 / peak[t]) if t in peak else "-"
            print("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %s | %.1f | %.1f |"
                  % (CASES[case]["title"], t, m, mo, o, pt, m / o, mo / o, m / pt, g(m), pct, g(o), g(pt)))
    # The fastest run of all is what a quiet machine gives: load only slows
    # runs down, so it is the figure least moved by other tenants.
    best = {k: min(r["min_ms"] for r in v) for k, v in results.items()}
    print()
    print("Fastest run of all rounds (ms), for reference on a shared machine:")
    print()
    print("| case | threads | mdlc | mdlc .onnx | ORT | PyTorch | mdlc/ORT | mdlc .onnx/ORT | mdlc/PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        for t in threads:
            m, mo, o, pt = (best[(case, t, fw)] for fw in FRAMEWORKS)
            print("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (CASES[case]["title"], t, m, mo, o, pt, m / o, mo / o, m / pt))
    if max(load) > os.cpu_count() / 2:
        print()
        print("warning: the machine was busy (load average up to %.2f on %d CPUs): other processes took CPU time,"
              % (max(load), os.cpu_count()))
        print("         most of all from the runs with as many threads as CPUs, where runtimes that spin-wait suffer most.")
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump({"started": started.isoformat(), "peak": peak, "flops": flops,
                   "runs": {"%s/%d/%s" % k: v for k, v in results.items()}}, f, indent=1)


def revision():
    p = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT)
    return "commit " + p.stdout.strip() if p.returncode == 0 else "not a git checkout"


def ort_version():
    with open(os.path.join(WORK, "node_modules", "onnxruntime-node", "package.json")) as f:
        return json.load(f)["version"]


def torch_version():
    return subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        export(sys.argv[2].split(","))
    elif len(sys.argv) > 1 and sys.argv[1] == "torch":
        torch_worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
