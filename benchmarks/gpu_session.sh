#!/usr/bin/env bash
# Every GPU-only check of the project in a few device-tool calls, for a session that is lent a GPU machine
# (H100/H200; about 30 minutes of device time, 10 minutes per call). No GPU session has happened yet: this is
# what issues "Evaluation" (GPU targets) and "Training at speed and at scale" (H100 targets) still need.
#
# The device image has PyTorch, torchvision, Cython, OpenCV, h5py, tensorboard, pytest and hypothesis for
# Python 3.12 but no yacs and no network, and ../shared does not travel. Prepare here, in the repo root, once:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl yacs==0.1.8           # .whl/ is git-ignored
#   mkdir -p .market && cp -r ../shared/data/market1501/bounding_box_train .market/   # 52 MB, git-ignored
#
# then one device call per stage (each well inside 10 minutes; `all` runs them in order and may not fit):
#
#   run(command="bash benchmarks/gpu_session.sh tests", carry=[".whl", ".market"], timeout_s=600)
#   run(command="bash benchmarks/gpu_session.sh eval train-osnet", carry=[".whl", ".market"], timeout_s=600)
#   run(command="bash benchmarks/gpu_session.sh train-others accuracy", carry=[".whl", ".market"], ...)
#
# Logs and the updated benchmarks/RESULTS.md come back in $OUT; copy the new RESULTS.md blocks into the repo.
#
# Stages:
#   tests         the CUDA-only tests (AMP, compile, CUDA graphs, prefetcher, GPU augment, rank/distance/re-rank
#                 on the GPU, fused optimiser resume) plus the suites they live in
#   eval          benchmarks/bench_eval.py --device cuda (targets: Market <= 50 ms, MSMT17 <= 1 s from features)
#   train-osnet   benchmarks/bench_train.py for osnet_x1_0 bs 64, original vs engine vs fast, plus the fast path
#                 with CUDA graphs (target: >= 3,000 images/s end to end on real JPEGs, >= 3x the original)
#   train-others  resnet50_fc512 bs 64 (target >= 2.5x the original) and osnet_x0_25 bs 128
#   accuracy      the quickstart recipe in fp32 and with the fast path (target: mAP within 1 point), and a
#                 one-process torchrun run on NCCL
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_session_out}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1

setup() {
    if ! "$PY" -c "import yacs" 2>/dev/null; then
        [ -d .whl ] || { echo "yacs is missing and no .whl/ folder was carried (see the header)"; exit 2; }
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 2
        export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
    fi
    export PYTHONPATH=$PWD:${PYTHONPATH:-}
    if [ -d .market/bounding_box_train ]; then  # bench_train reads $TORCHREID_SHARED/data/market1501/...
        mkdir -p /tmp/shared/data/market1501
        ln -sfn "$PWD/.market/bounding_box_train" /tmp/shared/data/market1501/bounding_box_train
        export TORCHREID_SHARED=/tmp/shared
    fi
    "$PY" setup.py build_ext --inplace > "$OUT/build_ext.log" 2>&1 || echo "Cython build failed (see build_ext.log)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
    "$PY" -c "import torch, torchreid.metrics.rank as r; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cython', r.IS_CYTHON_AVAILABLE)"
}

stage() {
    local name=$1
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: rc=$rc in $((SECONDS - start)) s"
    cp benchmarks/RESULTS.md "$OUT/RESULTS.md" 2>/dev/null
    return 0
}

run_stage() {
    case $1 in
    tests)
        stage tests "$PY" -m pytest -q -p no:cacheprovider -rs tests/engine/test_accel.py tests/metrics/test_rank.py \
            tests/metrics/test_distance.py tests/evaluation/test_rerank.py \
            tests/engine/test_engine.py tests/test_runner.py tests/search tests/inference
        ;;
    eval)
        stage eval "$PY" benchmarks/bench_eval.py --device cuda --runs 5
        ;;
    train-osnet)
        stage train_osnet "$PY" benchmarks/bench_train.py --models osnet_x1_0:64 --modes original,engine,fast \
            --runs 3 --workers 12
        stage train_osnet_graphs "$PY" benchmarks/bench_train.py --models osnet_x1_0:64 --modes fast --runs 3 \
            --workers 12 --compile reduce-overhead
        ;;
    train-others)
        stage train_others "$PY" benchmarks/bench_train.py --models resnet50_fc512:64,osnet_x0_25:128 \
            --modes original,engine,fast --runs 3 --workers 12
        ;;
    accuracy)
        stage acc_fp32 "$PY" scripts/main.py --config-file configs/quickstart.yaml use_gpu True \
            data.save_dir "$OUT/q_fp32" test.visrank False
        stage acc_fast "$PY" scripts/main.py --config-file configs/quickstart.yaml use_gpu True \
            data.save_dir "$OUT/q_fast" test.visrank False train.amp bf16 train.channels_last True \
            train.compile max-autotune-no-cudagraphs data.gpu_augment True
        grep -hE "^(mAP|mINP|Rank-1 )" "$OUT/acc_fp32.log" "$OUT/acc_fast.log" | tee "$OUT/accuracy.txt"
        stage nccl "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 scripts/main.py \
            --config-file configs/quickstart.yaml use_gpu True train.max_epoch 1 data.save_dir "$OUT/q_nccl" \
            test.visrank False
        ;;
    all)
        for s in tests eval train-osnet train-others accuracy; do run_stage "$s"; done
        ;;
    *)
        echo "unknown stage '$1'; choose from: tests eval train-osnet train-others accuracy all"
        exit 2
        ;;
    esac
}

[ $# -gt 0 ] || { echo "usage: bash benchmarks/gpu_session.sh STAGE [STAGE ...] (see the header)"; exit 2; }
for s in "$@"; do  # check every name before spending device time
    case $s in tests | eval | train-osnet | train-others | accuracy | all) ;; *)
        echo "unknown stage '$s'; choose from: tests eval train-osnet train-others accuracy all"
        exit 2
        ;;
    esac
done
setup
for s in "$@"; do run_stage "$s"; done
