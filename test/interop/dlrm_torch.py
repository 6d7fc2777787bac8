"""Independent reader for `hotcold export --format safetensors`: parse the file by hand (8-byte
header length, JSON header, data), build a PyTorch DLRM laid out as facebookresearch/dlrm's
DLRM_Net (EmbeddingBag tables emb_l, nn.Sequential bot_l / top_l, dot interaction without self
pairs), load_state_dict(strict=True), and print the logits of a batch as JSON.

usage: dlrm_torch.py MODEL.safetensors BATCH.bin
BATCH.bin: u32 B, then dense float32 B×13, then cats int32 B×26 (row ids), little endian.
"""
import json
import struct
import sys

import torch
from torch import nn


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    out = {}
    end = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        assert e["dtype"] == "F32", e
        b, c = e["data_offsets"]
        assert b == end, f"{name}: offsets not contiguous"
        end = c
        out[name] = torch.frombuffer(bytearray(data[b:c]), dtype=torch.float32).reshape(e["shape"])
    assert end == len(data), "data section longer than the tensors"
    return out, meta


def create_mlp(widths, sigmoid_last):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=True))
        last = i == len(widths) - 2
        layers.append(nn.Sigmoid() if (last and sigmoid_last) else nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    def __init__(self, sizes, dim, bot, top):
        super().__init__()
        self.emb_l = nn.ModuleList([nn.EmbeddingBag(n, dim, mode="sum") for n in sizes])
        self.bot_l = create_mlp(bot, False)
        self.top_l = create_mlp(top, True)

    def logits(self, dense, cats):
        B = dense.shape[0]
        x = self.bot_l(dense)
        offsets = torch.arange(B, dtype=torch.int64)
        ly = [emb(cats[:, k].contiguous(), offsets) for k, emb in enumerate(self.emb_l)]
        d = x.shape[1]
        T = torch.cat([x] + ly, dim=1).view((B, -1, d))
        Z = torch.bmm(T, torch.transpose(T, 1, 2))
        ni = T.shape[1]
        li = torch.tensor([i for i in range(ni) for j in range(i)])
        lj = torch.tensor([j for i in range(ni) for j in range(i)])
        R = torch.cat([x, Z[:, li, lj]], dim=1)
        return self.top_l[:-1](R).view(-1)  # all of top_l but the final Sigmoid


def main():
    tensors, meta = load_safetensors(sys.argv[1])
    sizes = [int(s) for s in meta["table_sizes"].split("-")]
    dim = int(meta["arch_sparse_feature_size"])
    bot = [int(s) for s in meta["arch_mlp_bot"].split("-")]
    top = [int(meta["top_input_width"])] + [int(s) for s in meta["arch_mlp_top"].split("-")]
    model = DLRM(sizes, dim, bot, top)
    model.load_state_dict(tensors, strict=True)
    with open(sys.argv[2], "rb") as f:
        raw = f.read()
    (B,) = struct.unpack("<I", raw[:4])
    dense = torch.frombuffer(bytearray(raw[4 : 4 + 4 * B * 13]), dtype=torch.float32).reshape(B, 13)
    cats = torch.frombuffer(bytearray(raw[4 + 4 * B * 13 :]), dtype=torch.int32).reshape(B, 26).to(torch.int64)
    with torch.no_grad():
        z = model.logits(dense, cats)
    print(json.dumps({"torch": torch.__version__, "logits": [float(v) for v in z]}))


if __name__ == "__main__":
    main()
