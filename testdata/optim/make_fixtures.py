#!/usr/bin/env python3
"""Writes the PyTorch 1.13 fixtures optim's tests compare with.

For each case below, torch.optim takes STEPS steps on N parameters with
given gradients (the same learning rate each step). <case>.params.npy is
float32 [STEPS+1, N]: row 0 the initial parameters, row k those after step
k; <case>.grads.npy is float32 [STEPS, N], the gradient of each step.
optim/pytorch_test.go holds the same hyperparameters in Go.

Run from the repository root with the Python that has PyTorch 1.13
(Debian's python3-torch): /usr/bin/python3 testdata/optim/make_fixtures.py
"""
import os

import numpy as np
import torch

STEPS, N = 5, 37
HERE = os.path.dirname(os.path.abspath(__file__))

# name: (seed, learning rate, optimizer constructor). Each case has a fresh
# seed, as testdata/pytorch's fixtures do.
CASES = {
    "sgd": (101, 0.1, lambda p, lr: torch.optim.SGD(p, lr=lr, weight_decay=0.01)),
    "sgd_momentum": (102, 0.05, lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": (103, 0.05, lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
    "adam": (104, 0.01, lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    "adamw": (105, 0.01, lambda p, lr: torch.optim.AdamW(p, lr=lr, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "rmsprop": (106, 0.01, lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.99, eps=1e-8, weight_decay=0.01)),
    "rmsprop_momentum": (107, 0.01, lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7, momentum=0.5)),
    "adagrad": (108, 0.1, lambda p, lr: torch.optim.Adagrad(p, lr=lr, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-10)),
}


def main():
    for name, (seed, lr, make) in CASES.items():
        torch.manual_seed(seed)
        p = torch.nn.Parameter(torch.randn(N))
        grads = torch.randn(STEPS, N)
        opt = make([p], lr)
        rows = [p.detach().clone()]
        for k in range(STEPS):
            p.grad = grads[k].clone()
            opt.step()
            rows.append(p.detach().clone())
        np.save(os.path.join(HERE, name + ".params.npy"), torch.stack(rows).numpy().astype(np.float32))
        np.save(os.path.join(HERE, name + ".grads.npy"), grads.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
