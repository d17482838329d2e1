#!/bin/sh
# Two builds, the same training: a 20-step baseline run from the same
# weights (--init), with augmentation, on the sample data, by each binary;
# the logged losses and every tensor of the final checkpoint (weights,
# optimiser state) must be bit-identical. For changes that must not move a
# number (a refactor, a different way to enqueue the same kernels).
# usage: tests/bench/same_losses.sh OLD_CLRESNET NEW_CLRESNET [DATA]
# PyTorch is not needed; python3 compares the checkpoints' tensors.
set -eu
old=$1 new=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
data=${3:-$here/data}
T=$(mktemp -d /tmp/clresnet-same-XXXXXX)
trap 'rm -rf "$T"' EXIT
args="--quiet train --data $data --model baseline --image-size 64 --epochs 5 --max-steps 20"
# the starting weights: one step of a fresh run
"$old" $args --max-steps 1 --epochs 1 --out "$T/init" > /dev/null
for b in old new; do
    eval bin=\$$b
    "$bin" $args --init "$T/init/last.safetensors" --out "$T/$b" > /dev/null
done
fail=0
if cmp -s "$T/old/steps.csv" "$T/new/steps.csv"; then echo "ok   steps.csv identical ($(($(wc -l < "$T/old/steps.csv") - 1)) steps)"
else echo "FAIL steps.csv differs"; diff "$T/old/steps.csv" "$T/new/steps.csv" | head; fail=1; fi
if [ "$(cut -d, -f1-6 "$T/old/log.csv")" = "$(cut -d, -f1-6 "$T/new/log.csv")" ]; then echo "ok   log.csv losses identical"
else echo "FAIL log.csv differs"; fail=1; fi
python3 - "$T/old/last.safetensors" "$T/new/last.safetensors" <<'PY' || fail=1
import json, struct, sys
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    d = b[8 + n:]
    return {k: d[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
diff = [k for k in a if a[k] != b.get(k)] + [k for k in b if k not in a]
print(("FAIL " if diff else "ok   ") + f"last.safetensors: {len(a)} tensors, {len(diff)} differ {diff[:5]}")
sys.exit(1 if diff else 0)
PY
exit $fail
