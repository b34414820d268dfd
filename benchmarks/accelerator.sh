#!/usr/bin/env bash
# One run of everything an accelerator machine should report, written under OUT:
#   bench run (full) at the backend's default precision and in bf16, and
#   nnlect train lenet5 on MNIST (time from process start to the test error).
#
#   bash benchmarks/accelerator.sh OUT [MNIST_DIR]
#
# MNIST_DIR (default $NNLECT_DATA_DIR) holds the four IDX files; without it the LeNet-5 run
# uses the bundled digits instead and says so. NNLECT_DRY_RUN=1 runs the same steps with
# small settings (quick bench, one epoch) to check the script on a CPU (tests/test_accelerator_script.py).
# Meant to take under 8 minutes on one GPU; nothing in it assumes a CPU.
set -euo pipefail
out="${1:?usage: bash benchmarks/accelerator.sh OUT [MNIST_DIR]}"
data="${2:-${NNLECT_DATA_DIR:-}}"
mkdir -p "$out"
start=$(date +%s)
mode=(); epochs=()
if [ "${NNLECT_DRY_RUN:-0}" = 1 ]; then mode=(--quick --workloads xor mlp rnn_small); epochs=(--epochs 1); fi

python -c "import jax; print('devices:', jax.devices())" | tee "$out/devices.txt"
nnlect bench run "${mode[@]}" --out "$out/bench" | tee "$out/bench-f32.log"
nnlect bench run "${mode[@]}" --dtype bf16 --out "$out/bench" | tee "$out/bench-bf16.log"
nnlect bench report "$out"/bench/*.json --out-md "$out/results.md" --out-png "$out/ratios.png" | tee "$out/report.log"

if [ -n "$data" ]; then
  lenet=(--data mnist --data-dir "$data")
else
  echo "no MNIST folder given: LeNet-5 trains on the bundled 8x8 digits (no target error)" | tee "$out/lenet5-data.txt"
  lenet=(--data digits --target-error 1.0)
fi
set +e
nnlect train lenet5 "${lenet[@]}" "${epochs[@]}" --out "$out/lenet5" | tee "$out/lenet5.log"
rc=${PIPESTATUS[0]}
set -e
echo "accelerator.sh: done in $(( $(date +%s) - start )) s; lenet5 exit code $rc; results in $out"
exit "$rc"
