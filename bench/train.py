#!/usr/bin/python3
"""Times a training step (forward, cross-entropy, backward, Adam) of the same
models in mdlc and PyTorch and prints a Markdown table of images per second,
with mdlc's ratio to PyTorch. Run through `bench/run.sh train`, which installs
PyTorch and OpenBLAS first; see bench/README.md.

  train.py [--rounds R] [--seconds S] [--threads 1,2] [--cases ...]

As compare.py: each measurement is a fresh process that warms up, times steps
for S seconds and reports its median step; the two frameworks take turns, R
rounds over, and an entry is the median of the R medians. Both train on one
fixed batch of random images and labels (the rate does not depend on the
values), from their own default initial weights.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

from compare import MDLC, OPENBLAS, ROOT, machine, timed

CASES = {
    "fashion-b32": dict(title="seed CNN 28x28x1 (Fashion-MNIST), batch 32", mdl="stdlib/fashion_cnn.mdl", batch=32,
                        size=28, channels=1),
    "cnn32-b32": dict(title="seed CNN 32x32x3 (CIFAR-10), batch 32", mdl="stdlib/cnn.mdl", batch=32, size=32, channels=3),
    "lenet-b64": dict(title="LeNet-5 28x28x1 (MNIST), batch 64", mdl="stdlib/lenet.mdl", batch=64, size=28, channels=1),
}


def torch_model(case):
    """The case's model in torch.nn, NCHW, as the .mdl file writes it."""
    from torch import nn

    c = CASES[case]
    if case == "lenet-b64":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    side = ((c["size"] - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(c["channels"], 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * side * side, 10))


def torch_worker(case, threads, seconds, warmup):
    import torch

    torch.set_num_threads(threads)
    c = CASES[case]
    model = torch_model(case)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(c["batch"], c["channels"], c["size"], c["size"])
    y = torch.arange(c["batch"]) % 2

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    t = timed(step, seconds, warmup)
    print(json.dumps({"median_ms": t["median_ms"], "images_per_s": c["batch"] / (t["median_ms"] / 1e3), "torch": torch.__version__}))


def measure(framework, case, threads, seconds, warmup):
    c = CASES[case]
    if framework == "mdlc":
        cmd = [MDLC, "bench", "--train", "--json", "--threads", str(threads), "--batch", str(c["batch"]),
               "--time", f"{seconds}s", "--warmup", str(warmup), os.path.join(ROOT, c["mdl"])]
        env = dict(os.environ)
    else:
        cmd = [sys.executable, __file__, "torch-worker", case, str(threads), str(seconds), str(warmup)]
        env = dict(os.environ)
        if os.path.isdir(OPENBLAS):
            env["LD_LIBRARY_PATH"] = OPENBLAS + ":" + env.get("LD_LIBRARY_PATH", "")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "torch-worker":
        torch_worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    cases = args.cases.split(",")
    for case in cases:
        if case not in CASES:
            sys.exit(f"unknown case {case}; cases are {', '.join(CASES)}")
    threads = [int(t) for t in args.threads.split(",")]
    print(f"Training steps, {machine()[0]}, {os.cpu_count()} CPUs, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC;"
          f" PyTorch on {'OpenBLAS' if os.path.isdir(OPENBLAS) else 'the system BLAS'};"
          f" median of {args.rounds} rounds of {args.seconds:g} s\n")
    print("| case | threads | mdlc kernels | mdlc images/s | PyTorch images/s | mdlc / PyTorch | mdlc step / forward |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        for t in threads:
            rates = {"mdlc": [], "torch": []}
            ratio, kernels = [], "?"
            for r in range(args.rounds):
                order = ["mdlc", "torch"] if r % 2 == 0 else ["torch", "mdlc"]
                for fw in order:
                    res = measure(fw, case, t, args.seconds, args.warmup)
                    rates[fw].append(res["images_per_s"])
                    if fw == "mdlc":
                        ratio.append(res["step_over_forward"])
                        kernels = res["kernels"]
            m, p = statistics.median(rates["mdlc"]), statistics.median(rates["torch"])
            print(f"| {CASES[case]['title']} | {t} | {kernels} | {m:,.0f} | {p:,.0f} | {m / p:.2f} | {statistics.median(ratio):.2f} |", flush=True)


if __name__ == "__main__":
    main()
