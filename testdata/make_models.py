#!/usr/bin/python3
"""Regenerate the committed test models, datasets and reference outputs under testdata/.

Re-run (from the repository root, takes a few minutes on 2 CPU cores):

    /usr/bin/python3 testdata/make_models.py

Needs only Debian (bookworm) packages, no pip:

    apt-get install python3-torch python3-onnx python3-sklearn python3-numpy dataset-fashion-mnist

(Fashion-MNIST is read from /usr/share/datasets/fashion-mnist/*.gz, installed by
dataset-fashion-mnist; the digits set ships inside python3-sklearn.)

CI never runs this script (CI has no torch); its outputs are committed. Everything is deterministic:
fixed seeds, CPU only, a fixed thread count, deterministic algorithms. Bit-exact reproduction of the
trained weights is only expected with the same torch build and CPU.

Writes (paths relative to testdata/):
  models/digits_mlp.onnx, models/digits_cnn.onnx, models/fashion_dwcnn.onnx, models/fashion_resnet.onnx
  data/digits_test.csv, data/digits_test_x.npy, data/digits_test_y.npy, data/digits_calib.csv
  data/fashion_test.npz, data/fashion_calib.npz
  ref/<model>_logits.npy, ref/accuracy.json, ref/models.json
It also checks every model with onnx.checker and re-runs every ONNX graph with a small NumPy
interpreter (below) against the torch reference logits, since onnxruntime is not packaged in Debian.
"""

import gzip
import json
import os
import random
import struct
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
OPSET = 13
SEED = 20240601
FASHION_TRAIN_N = 20000  # training subset: the first 20000 official train images
FASHION_CALIB = (59500, 60000)  # calibration: the last 500 official train images (disjoint)
FASHION_TEST_N = 1000  # test: the first 1000 official t10k images
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------- data

def load_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, path
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def digits_splits():
    d = load_digits()
    x = d.data.astype(np.int64)  # integers 0..16, [1797, 64]
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=360, random_state=0, stratify=y)
    return xtr, ytr, xte, yte


def fashion_sets():
    xtr = load_idx(f"{FASHION_DIR}/train-images-idx3-ubyte.gz")
    ytr = load_idx(f"{FASHION_DIR}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = load_idx(f"{FASHION_DIR}/t10k-images-idx3-ubyte.gz")
    yte = load_idx(f"{FASHION_DIR}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return xtr[:, None], ytr, xte[:, None], yte  # uint8 [N,1,28,28]


# --------------------------------------------------------------------------------------- models
# Each model takes the raw pixel values (as float32) and normalises them itself, so the graph starts
# with Div (and Sub, Div for Fashion-MNIST).

class DigitsScale(nn.Module):
    def forward(self, x):
        return x / 16.0  # digits pixels are 0..16


class FashionNorm(nn.Module):
    def forward(self, x):
        return (x / 255.0 - FASHION_MEAN) / FASHION_STD  # pixels are 0..255


class DigitsMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = DigitsScale()
        self.fc1 = nn.Linear(64, 64)
        self.bn1 = nn.BatchNorm1d(64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.norm(x)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = DigitsScale()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.norm(x)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        x = self.pool(x)
        return self.fc(self.flatten(x))


def conv_bn_relu6(cin, cout, k, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class DWSeparable(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = conv_bn_relu6(cin, cin, 3, stride, groups=cin)
        self.pw = conv_bn_relu6(cin, cout, 1, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


class FashionDWCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = FashionNorm()
        self.stem = conv_bn_relu6(1, 16, 3, 2)  # 28 -> 14
        self.blocks = nn.Sequential(
            DWSeparable(16, 32, 1),  # 14
            DWSeparable(32, 64, 2),  # 7
            DWSeparable(64, 64, 1),  # 7
            DWSeparable(64, 128, 2),  # 4
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.blocks(self.stem(self.norm(x)))
        return self.fc(self.flatten(self.pool(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class FashionResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = FashionNorm()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(inplace=True))  # 28
        self.layer1 = BasicBlock(16, 16, 1)  # identity shortcut, 28
        self.layer2 = BasicBlock(16, 32, 2)  # 1x1 stride-2 projection, 14
        self.layer3 = BasicBlock(32, 64, 2)  # 1x1 stride-2 projection, 7
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.stem(self.norm(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.pool(x)))


# ------------------------------------------------------------------------------------- training

def train(model, x, y, epochs, batch, lr, seed, augment=None):
    seed_all(seed)
    x = torch.from_numpy(x.astype(np.float32))
    y = torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        tot, n = 0.0, 0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            if len(idx) < 2:
                continue  # BatchNorm needs > 1 sample
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb, g)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            n += len(idx)
        print(f"    epoch {ep + 1}/{epochs} loss {tot / n:.4f}", flush=True)
    model.eval()
    return model


def hflip(xb, g):
    flip = torch.rand(len(xb), generator=g) < 0.5
    return torch.where(flip[:, None, None, None], xb.flip(-1), xb)


@torch.no_grad()
def logits_of(model, x):
    model.eval()
    return model(torch.from_numpy(x.astype(np.float32))).numpy().astype(np.float32)


# --------------------------------------------------------------------------------------- export

def export(model, example_shape, path):
    model.eval()
    dummy = torch.zeros((2,) + tuple(example_shape[1:]), dtype=torch.float32)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


# ------------------------------------------------------ a tiny NumPy ONNX interpreter (for checks)

def _pads(attrs, nd):
    p = attrs.get("pads", [0] * (2 * nd))
    return [(p[i], p[i + nd]) for i in range(nd)]


def np_conv(x, w, b, attrs):
    assert attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    group = attrs.get("group", 1)
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    (pt, pb), (pl, pr) = _pads(attrs, 2)
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, m, oh, ow), dtype=np.float64)
    mg = m // group
    for gi in range(group):
        xs = x[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * mg:(gi + 1) * mg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, gi * mg:(gi + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def np_maxpool(x, attrs):
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    (pt, pb), (pl, pr) = _pads(attrs, 2)
    assert attrs.get("ceil_mode", 0) == 0 and attrs.get("dilations", [1, 1]) == [1, 1]
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw])
    return out


def run_onnx_numpy(model, x):
    """Evaluates the ops our exports use, in float64, to cross-check the exported graphs."""
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if numpy_helper.to_array(t).dtype.kind == "f"
           else numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            t = numpy_helper.to_array(a["value"])
            r = t.astype(np.float64) if t.dtype.kind == "f" else t
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Sub":
            r = i[0] - i[1]
        elif op == "Mul":
            r = i[0] * i[1]
        elif op == "Div":
            r = i[0] / i[1]
        elif op == "Relu":
            r = np.maximum(i[0], 0)
        elif op == "Clip":
            lo = i[1] if len(i) > 1 and i[1] is not None else -np.inf
            hi = i[2] if len(i) > 2 and i[2] is not None else np.inf
            r = np.clip(i[0], lo, hi)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "BatchNormalization":
            xx, s, bb, mean, var = i
            shp = (1, -1) + (1,) * (xx.ndim - 2)
            r = (xx - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + a.get("epsilon", 1e-5)) * s.reshape(shp) + bb.reshape(shp)
        elif op == "Conv":
            r = np_conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "MaxPool":
            r = np_maxpool(i[0], a)
        elif op == "GlobalAveragePool":
            r = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            r = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1].tolist())]
            r = i[0].reshape(shape)
        elif op == "Shape":
            r = np.array(i[0].shape, dtype=np.int64)
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = r
    return env[model.graph.output[0].name]


# ----------------------------------------------------------------------------------------- main

def write_csv(path, x, y):
    with open(path, "w") as f:
        for row, label in zip(x, y):
            f.write(",".join([str(int(label))] + [str(int(v)) for v in row]) + "\n")


def count_params(model):
    return int(sum(p.numel() for p in model.parameters()))


def main():
    t0 = time.time()
    for d in ("models", "data", "ref"):
        os.makedirs(os.path.join(HERE, d), exist_ok=True)
    P = lambda *p: os.path.join(HERE, *p)

    # ---- datasets
    dxtr, dytr, dxte, dyte = digits_splits()
    write_csv(P("data", "digits_test.csv"), dxte, dyte)
    np.save(P("data", "digits_test_x.npy"), dxte.astype(np.float32))
    np.save(P("data", "digits_test_y.npy"), dyte.astype(np.int64))
    write_csv(P("data", "digits_calib.csv"), dxtr[:200], dytr[:200])

    fxtr_all, fytr_all, fxte_all, fyte_all = fashion_sets()
    fxtr, fytr = fxtr_all[:FASHION_TRAIN_N], fytr_all[:FASHION_TRAIN_N]
    fxte, fyte = fxte_all[:FASHION_TEST_N], fyte_all[:FASHION_TEST_N]
    a, b = FASHION_CALIB
    np.savez(P("data", "fashion_test.npz"), x=fxte.astype(np.uint8), y=fyte.astype(np.int64))
    np.savez(P("data", "fashion_calib.npz"), x=fxtr_all[a:b].astype(np.uint8), y=fytr_all[a:b].astype(np.int64))

    # ---- models
    specs = [
        # name, constructor, train x, train y, test x, test y, input shape, raw range, train kwargs
        ("digits_mlp", DigitsMLP, dxtr, dytr, dxte, dyte, (None, 64), "0..16",
         dict(epochs=60, batch=32, lr=5e-3)),
        ("digits_cnn", DigitsCNN, dxtr.reshape(-1, 1, 8, 8), dytr, dxte.reshape(-1, 1, 8, 8), dyte,
         (None, 1, 8, 8), "0..16", dict(epochs=40, batch=32, lr=3e-3)),
        ("fashion_dwcnn", FashionDWCNN, fxtr, fytr, fxte, fyte, (None, 1, 28, 28), "0..255",
         dict(epochs=6, batch=64, lr=5e-3, augment=hflip)),
        ("fashion_resnet", FashionResNet, fxtr, fytr, fxte, fyte, (None, 1, 28, 28), "0..255",
         dict(epochs=4, batch=64, lr=5e-3, augment=hflip)),
    ]
    accuracy, info = {}, {}
    for k, (name, ctor, xtr, ytr, xte, yte, shape, rng, kw) in enumerate(specs):
        print(f"[{time.time() - t0:6.1f}s] training {name}", flush=True)
        seed_all(SEED + k)
        model = ctor()
        train(model, xtr, ytr, seed=SEED + k, **kw)
        logits = logits_of(model, xte)
        acc = float((logits.argmax(1) == yte).mean())
        print(f"    test accuracy {acc:.4f}", flush=True)
        np.save(P("ref", f"{name}_logits.npy"), logits)
        accuracy[name] = round(acc, 4)

        path = P("models", f"{name}.onnx")
        m = export(model, shape, path)
        ops = []
        for node in m.graph.node:
            if node.op_type not in ops:
                ops.append(node.op_type)
        # cross-check the exported graph against torch with the NumPy interpreter
        onnx_out = run_onnx_numpy(m, xte.astype(np.float32))
        diff = float(np.abs(onnx_out - logits).max())
        same = bool((onnx_out.argmax(1) == logits.argmax(1)).all())
        print(f"    onnx ops {ops}; numpy-vs-torch max|diff| {diff:.2e}, argmax equal {same}", flush=True)
        assert diff < 1e-4 and same, name
        info[name] = dict(
            input_shape=["N"] + list(shape[1:]), raw_range=rng, params=count_params(model),
            ops=ops, nodes=len(m.graph.node), accuracy=round(acc, 4), test_samples=int(len(yte)),
            bytes=os.path.getsize(path), opset=m.opset_import[0].version, ir_version=m.ir_version,
            numpy_max_abs_diff=diff)

    with open(P("ref", "accuracy.json"), "w") as f:
        json.dump(accuracy, f, indent=2)
        f.write("\n")
    with open(P("ref", "models.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, onnx=onnx.__version__, opset=OPSET, models=info), f, indent=2)
        f.write("\n")
    print(f"[{time.time() - t0:6.1f}s] done", flush=True)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
