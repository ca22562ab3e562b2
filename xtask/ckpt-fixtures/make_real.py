#!/usr/bin/env python3
"""Writes tiny checkpoints with the real torch (not look-alikes) into fixtures/ckpt/real/.

Run with a Python that has torch:  python xtask/ckpt-fixtures/make_real.py
The torch version used is written to fixtures/ckpt/real/VERSIONS. Every file stays a few KB.
The outputs are committed; tests in plugins/mir-ckpt/tests/real.rs pin what mir reads from them.

Python-2-era pickles (torch 0.4, lpips' .pth) cannot be written by a current torch: those are
built byte-exact by hand in xtask/src/hostile.rs (`py2_ordered_dict_reduce`).
"""

import collections
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "ckpt", "real")
OUT = os.path.normpath(OUT)
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 2)
        self.scale = 2.0

    def forward(self, x):
        y = self.norm(self.conv(x)).mean(dim=(2, 3))
        return self.fc(y) * self.scale


def state_dict():
    m = Tiny()
    return m, collections.OrderedDict((k, v.detach().clone()) for k, v in m.state_dict().items())


def save(obj, name, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kw)
    return path


model, sd = state_dict()
# 1. torch.save, default protocol (2 for torch.save's zip writer), zip container.
save(sd, "state_dict_default.pt")
# 2. pickle protocol 4 (dotted STACK_GLOBAL names, FRAME, MEMOIZE) in the zip container.
save(sd, "state_dict_p4.pt", pickle_protocol=4)
# 3. the legacy (pre-1.6) non-zip format with protocol 2.
save(sd, "state_dict_legacy_p2.pt", _use_new_zipfile_serialization=False, pickle_protocol=2)
# 4. TorchScript: torch.jit.save, as .jit and as .pt.
scripted = torch.jit.script(Tiny().eval())
torch.jit.save(scripted, os.path.join(OUT, "tiny_script.jit"))
torch.jit.save(scripted, os.path.join(OUT, "tiny_script.pt"))
# 4b. A traced module with a tensor constant (stored in constants.pkl and constants/).
class WithConstant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x) + torch.tensor([1.5, 2.5])


traced = torch.jit.trace(WithConstant().eval(), torch.randn(1, 2))
torch.jit.save(traced, os.path.join(OUT, "traced_constant.pt"))
# 5. A Lightning-style checkpoint: state_dict + optimizer state + hyper-parameters, with one
#    hyper-parameter dict shared (the same object, so memo references) by many callback states,
#    as Lightning's loops and callbacks do: 30 × 150 = 4,500 values reached through references.
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
model(torch.randn(2, 3, 8, 8)).sum().backward()
opt.step()
hp = {f"hp_{i}": (i if i % 3 else f"value {i}") for i in range(150)}
ckpt = {
    "epoch": 3,
    "global_step": 1200,
    "pytorch-lightning_version": "2.4.0",
    "state_dict": collections.OrderedDict(("model." + k, v) for k, v in model.state_dict().items()),
    "loops": {f"loop_{i}": {"state": hp, "progress": {"total": i}} for i in range(10)},
    "callbacks": {f"ModelCheckpoint{{'monitor': 'val_{i}'}}": {"best": hp} for i in range(20)},
    "optimizer_states": [opt.state_dict()],
    "lr_schedulers": [],
    "hparams_name": "kwargs",
    "hyper_parameters": hp,
}
save(ckpt, "lightning_style.ckpt")

with open(os.path.join(OUT, "VERSIONS"), "w") as f:
    f.write(f"torch {torch.__version__}\npython {sys.version.split()[0]}\n")
for name in sorted(os.listdir(OUT)):
    print(f"{os.path.getsize(os.path.join(OUT, name)):>8}  {name}")
