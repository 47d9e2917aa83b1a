#!/usr/bin/env bash
# The whole benchmark suite on a machine with a GPU and a bf16-capable CPU, in one go:
#   CPU figures on 2 pinned cores (the issue's 2-core machine), GPU figures, bf16 accuracy.
#   bash benchmarks/device_suite.sh DATA_ROOT OUT_DIR [ITERS] [ACC_ITERS]
# Each job writes JSON to OUT_DIR and its table to OUT_DIR/log.txt. On 2026-11-28 (H100 host,
# Xeon with AMX) the whole suite took about 6 minutes.
set -u
DATA=$1; OUT=$2; ITERS=${3:-20}; ACC_ITERS=${4:-4000}
S=${SMOKE:+--smoke}  # SMOKE=1: every script in its smoke mode, to check this script itself
CFG=configs/unet/fcn_unet_s5-d16_64x64_40k_drive.py
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$OUT"; LOG=$OUT/log.txt
py=${PY:-$(command -v python3 || command -v python)}
{
  echo "== env"; date; nproc; lscpu | grep -iE 'model name|thread|core|socket|flags' | cut -c1-400
  lscpu | grep -o -wE 'avx512f|avx512_bf16|amx_bf16|amx_tile|avx512_vnni' | sort -u | tr '\n' ' '; echo
  $py -c "import torch; print('torch', torch.__version__, torch.backends.cpu.get_cpu_capability(),
'mkldnn bf16', torch.ops.mkldnn._is_mkldnn_bf16_supported(), 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"
  nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv 2>/dev/null
} >"$LOG" 2>&1
# Two logical CPUs on different physical cores for each CPU job; what is left runs the GPU jobs.
read -r A B REST < <($py - <<'PY'
import collections, subprocess
rows = [l.split(",") for l in subprocess.run(["lscpu", "-p=CPU,CORE"], capture_output=True, text=True).stdout.splitlines() if l[0].isdigit()]
cores = collections.OrderedDict()
for cpu, core in rows: cores.setdefault(core, []).append(cpu)
c = list(cores.values())
first = lambda group: ",".join(g[0] for g in group)
a = first(c[0:2])  # on a machine with fewer cores, the jobs share them
print(a, first(c[2:4]) or a, ",".join(x for g in c[4:] for x in g) or a)
PY
)
echo "cpu job A on $A, cpu job B on $B, gpu jobs on $REST" >>"$LOG"
cpu() { local cores=$1; shift; OMP_NUM_THREADS=2 CUDA_VISIBLE_DEVICES= timeout 470 taskset -c "$cores" "$py" "$@"; }
gpu() { timeout 470 taskset -c "$REST" "$py" "$@"; }
# Phase 1, CPU: speed settings interleaved round by round (a shared VM drifts), and the loss
# tricks' cost, on disjoint cores. Phase 2, GPU, once the CPU figures are taken.
(
  cpu "$A" benchmarks/train_speed.py $CFG $S --data-root "$DATA" --iters "$ITERS" --interleave \
    --out "$OUT/cpu_speed.json" --settings fp32 byhand-fp32 byhand-bf16+cl bf16+cl bf16
) >"$OUT/a.txt" 2>&1 &
(
  cpu "$B" benchmarks/loss_overhead.py $CFG $S --data-root "$DATA" --iters 30 --setting bf16+cl --out "$OUT/cpu_loss_bf16.json"
  cpu "$B" benchmarks/host_memory.py $CFG $S --data-root "$DATA" --pairs 2 --iters 15 --setting bf16+cl \
    --out "$OUT/cpu_host_memory.json"
  cpu "$B" benchmarks/conv_layers.py $CFG $S --data-root "$DATA" --out "$OUT/cpu_conv_layers.json"
) >"$OUT/b.txt" 2>&1 &
wait
(
  if $py -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    gpu benchmarks/train_speed.py $CFG $S --data-root "$DATA" --iters "$ITERS" --interleave --out "$OUT/gpu_speed.json" \
      --cfg-options cudnn_benchmark=True --settings fp32 bf16 bf16+cl byhand-fp32 byhand-bf16+cl
    gpu benchmarks/bf16_accuracy.py $CFG $S --data-root "$DATA" --iters "$ACC_ITERS" --settings fp32 --out "$OUT/acc_fp32.json" &
    gpu benchmarks/bf16_accuracy.py $CFG $S --data-root "$DATA" --iters "$ACC_ITERS" --settings bf16 --out "$OUT/acc_bf16.json"
    wait
  else
    echo "no GPU: GPU jobs skipped"
  fi
) >"$OUT/g.txt" 2>&1
wait
for f in a b g; do echo "== job $f"; grep -vE 'UserWarning|check_worker|return obj|INFO|^\s*$' "$OUT/$f.txt"; done >>"$LOG"
rm -f "$OUT"/[abg].txt
cat "$LOG"
