"""PyTorch peer of hotcold's model step, for `npm run bench:peer` (bench/peer.ts).

The same DLRM as hotcold: 26 embedding tables (one lookup per sample and table, sparse
gradients), bottom MLP with ReLU, batched dot interaction (T·Tᵀ over the 27 vectors, strict
lower triangle in DLRM's pair order (1,0), (2,0), (2,1), …), top MLP (ReLU except the last
layer), BCE on logits, SGD on everything (sparse SGD for the tables).

Protocol (line-based, so the caller can interleave it with its own steps):
  argv: --bot 13-512-256-64-16 --top 512-256-1 --dim 16 --batch 2048 --threads 1 --rows 100000 --seed 1
  stdout first line: {"ready": true, "torch": "1.13.1", "threads": 1}
  stdin "run N"  → runs N steps, prints {"ms": [t1, …, tN], "cpu": [c1, …, cN]} (wall and
                   process CPU ms per step, all threads)
  stdin "quit"   → exits
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # the caller reports this and skips the peer
    print(json.dumps({"ready": False, "error": f"torch not importable: {e}"}), flush=True)
    sys.exit(0)

KAGGLE_CARDINALITIES = [
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
]


def mlp(sizes, relu_last):
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1], bias=True)
        # DLRM init, as hotcold
        nn.init.normal_(lin.weight, 0.0, (2.0 / (sizes[i] + sizes[i + 1])) ** 0.5)
        nn.init.normal_(lin.bias, 0.0, (1.0 / sizes[i + 1]) ** 0.5)
        layers.append(lin)
        if i < len(sizes) - 2 or relu_last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Dlrm(nn.Module):
    def __init__(self, bot, top, dim, rows):
        super().__init__()
        self.embs = nn.ModuleList()
        for n in rows:
            e = nn.Embedding(n, dim, sparse=True)
            nn.init.uniform_(e.weight, -((1.0 / n) ** 0.5), (1.0 / n) ** 0.5)
            self.embs.append(e)
        self.bot = mlp(bot, relu_last=True)
        V = len(rows) + 1
        li, lj = torch.tril_indices(V, V, offset=-1)
        self.register_buffer("li", li)
        self.register_buffer("lj", lj)
        self.top = mlp([dim + V * (V - 1) // 2] + top, relu_last=False)

    def forward(self, dense, cats):
        x = self.bot(dense)
        ly = [e(cats[:, f]) for f, e in enumerate(self.embs)]
        T = torch.cat([x] + ly, dim=1).view(x.shape[0], -1, x.shape[1])
        Z = torch.bmm(T, torch.transpose(T, 1, 2))
        Zflat = Z[:, self.li, self.lj]
        R = torch.cat([x, Zflat], dim=1)
        return self.top(R).squeeze(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bot", default="13-512-256-64-16")
    p.add_argument("--top", default="512-256-1")
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(a.seed)
    rows = [min(c, a.rows) for c in KAGGLE_CARDINALITIES]
    bot = [int(x) for x in a.bot.split("-")]
    top = [int(x) for x in a.top.split("-")]
    model = Dlrm(bot, top, a.dim, rows)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    B = a.batch
    batches = []
    for _ in range(4):
        dense = torch.log1p(torch.rand(B, bot[0]) * 100)
        cats = torch.stack([torch.randint(0, n, (B,)) for n in rows], dim=1)
        labels = (torch.rand(B) < 0.25).float()
        batches.append((dense, cats, labels))

    def step(i):
        dense, cats, labels = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(dense, cats), labels)
        loss.backward()
        opt.step()
        return loss.item()

    step(0)  # warm-up (allocation)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    i = 1
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "run":
            ms, cpu = [], []
            for _ in range(int(cmd[1])):
                c0 = time.process_time()
                t0 = time.perf_counter()
                step(i)
                ms.append((time.perf_counter() - t0) * 1000.0)
                cpu.append((time.process_time() - c0) * 1000.0)
                i += 1
            print(json.dumps({"ms": ms, "cpu": cpu}), flush=True)


if __name__ == "__main__":
    main()
