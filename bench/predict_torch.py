"""Peer for `npm run bench:predict`: PyTorch forward throughput of the exported DLRM.

usage: predict_torch.py MODEL.safetensors BATCH.bin THREADS REPEAT
Prints JSON {rows_per_sec, torch}. Reuses test/interop/dlrm_torch.py's reader and model.
"""
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "interop"))
import torch  # noqa: E402
from dlrm_torch import DLRM, load_safetensors  # noqa: E402


def main():
    tensors, meta = load_safetensors(sys.argv[1])
    torch.set_num_threads(int(sys.argv[3]))
    sizes = [int(s) for s in meta["table_sizes"].split("-")]
    bot = [int(s) for s in meta["arch_mlp_bot"].split("-")]
    top = [int(meta["top_input_width"])] + [int(s) for s in meta["arch_mlp_top"].split("-")]
    model = DLRM(sizes, int(meta["arch_sparse_feature_size"]), bot, top)
    model.load_state_dict(tensors, strict=True)
    with open(sys.argv[2], "rb") as f:
        raw = f.read()
    (B,) = struct.unpack("<I", raw[:4])
    dense = torch.frombuffer(bytearray(raw[4 : 4 + 4 * B * 13]), dtype=torch.float32).reshape(B, 13)
    cats = torch.frombuffer(bytearray(raw[4 + 4 * B * 13 :]), dtype=torch.int32).reshape(B, 26).to(torch.int64)
    times = []
    with torch.no_grad():
        model.logits(dense, cats)
        for _ in range(int(sys.argv[4])):
            t = time.perf_counter()
            torch.sigmoid(model.logits(dense, cats))
            times.append(time.perf_counter() - t)
    times.sort()
    # the same forward GEMMs alone (x @ W^T per linear layer, no bias, ReLU or interaction)
    weights = [t for k, t in sorted(tensors.items()) if k.endswith(".weight") and not k.startswith("emb_l")]
    xs = [torch.full((B, w.shape[1]), 0.5) for w in weights]
    gtimes = []
    with torch.no_grad():
        for x, w in zip(xs, weights):
            x @ w.t()
        for _ in range(int(sys.argv[4])):
            t = time.perf_counter()
            for x, w in zip(xs, weights):
                x @ w.t()
            gtimes.append(time.perf_counter() - t)
    gtimes.sort()
    print(json.dumps({"rows_per_sec": B / times[len(times) // 2], "gemm_rows_per_sec": B / gtimes[len(gtimes) // 2], "torch": torch.__version__}))


if __name__ == "__main__":
    main()
