#!/usr/bin/python3
"""Writes small PyTorch checkpoints (torch.save, zip format) that exercise Cadence's restricted
unpickler (src/engine/formats/torch_checkpoint.h), with the values torch itself reads back as golden
JSON, plus a hostile checkpoint whose pickle would run a shell command if it were executed.

Run from the repository root:  /usr/bin/python3 tools/engine/make_torch_checkpoints.py
Output: tests/engine/data/torch/. Deterministic. Needs python3-torch (Debian).
"""
import collections
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "engine", "data", "torch")


class Hostile:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/cadence-pickle-was-executed",))


def golden(state):
    out = {}
    for name, t in state.items():
        if not torch.is_tensor(t) or not t.is_floating_point():
            continue
        out[name] = {"shape": list(t.shape), "values": t.detach().float().reshape(-1).tolist()}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    base = torch.randn(40, generator=g)
    conv = torch.nn.Conv1d(3, 4, 5)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(4, 3, 5, generator=g))
        conv.bias.copy_(torch.randn(4, generator=g))
    bn = torch.nn.BatchNorm1d(4)
    state = collections.OrderedDict()
    state["conv.weight"] = conv.weight.detach()  # via a module: a plain contiguous tensor
    state["conv.bias"] = conv.bias.detach()
    state["param"] = torch.nn.Parameter(torch.randn(2, 3, generator=g))  # _rebuild_parameter
    state["half"] = torch.randn(3, 5, generator=g).half()
    state["bf16"] = torch.randn(7, generator=g).bfloat16()
    state["double"] = torch.randn(2, 2, generator=g).double()
    state["transposed"] = base[:12].reshape(3, 4).t()  # strides (1, 4): copied contiguous
    state["slice_a"] = base[5:15]  # shares base's storage with an offset
    state["slice_b"] = base[20:40].reshape(4, 5)
    state["scalar"] = torch.tensor(3.5)
    for k, v in bn.state_dict().items():  # includes the int64 num_batches_tracked
        state["bn." + k] = v
    torch.save(state, os.path.join(OUT, "state_dict.pt"))
    # A training checkpoint: the weights under "model", with other entries beside them.
    torch.save({"epoch": 3, "model": collections.OrderedDict(w=torch.ones(2, 2) * 0.25)},
               os.path.join(OUT, "wrapped.pt"))
    torch.save({"w": torch.zeros(1), "payload": Hostile()}, os.path.join(OUT, "hostile.pt"))
    torch.save({"w": torch.zeros(0)}, os.path.join(OUT, "empty_tensor.pt"))  # a storage of 0 bytes
    with open(os.path.join(OUT, "state_dict.golden.json"), "w") as f:
        json.dump(golden(state), f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
