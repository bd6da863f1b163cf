"""The full LeNet run of section 7.6 on each backend - 10 epochs, batch 128, lr 0.1, Xavier, from
d2l.seed(0) - with its wall time, final training loss and test accuracy: README's full-run table.

    python tools/lenet_full_run.py --backends numpy,torch --json build/lenet_full.json

Each backend runs in its own process (frameworks that cannot share one never meet), one at a time,
with one compute thread each unless --threads says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RUN = """
import json, sys, time
import d2lconv as d2l
d2l.set_backend(sys.argv[1])
data = d2l.FashionMNIST(batch_size=128)
d2l.seed(0)
model = d2l.LeNet(lr=0.1)
model.apply_init([next(iter(data.get_dataloader(True)))[0]], d2l.init_cnn)
model.board.display = False
start = time.perf_counter()
trainer = d2l.Trainer(max_epochs=int(sys.argv[2]), progress=False).fit(model, data)
h = trainer.history
steps = len(data.train_dataloader())
print(json.dumps({"backend": sys.argv[1], "seconds": time.perf_counter() - start,
                  "final_train_loss": sum(h["train_loss"][-steps:]) / steps, "val_acc": h["val_acc"],
                  "val_loss": h["val_loss"], "first_epoch_losses": h["train_loss"][:steps]}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="numpy,torch,tensorflow,mxnet,jax")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from d2lconv.backend import thread_limits

    env = {**os.environ, **thread_limits(args.threads), "D2LCONV_BACKEND": ""}
    rows = []
    for backend in args.backends.split(","):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", RUN, backend, str(args.epochs)], env=env,
                             capture_output=True, text=True)
        if out.returncode:
            print(f"{backend}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["process_seconds"] = time.perf_counter() - started
        rows.append(row)
        print(f"{backend:<11} {row['seconds']:7.1f} s  final train loss {row['final_train_loss']:.4f}  "
              f"test accuracy {row['val_acc'][-1]:.4f}", flush=True)
        if args.json:
            from d2lconv.atomic import write_json_atomic
            write_json_atomic(args.json, {"epochs": args.epochs, "threads": args.threads, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
