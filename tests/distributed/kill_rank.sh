#!/usr/bin/env bash
# A rank dies mid-training: the job must end, non-zero, within 60 s, with a message naming the
# rank, and `--resume` must continue from the last checkpoint (CTest
# example_bert_train_distributed_kill; docs/distributed.md "Faults").
#
#   kill_rank.sh MPIEXEC BERT_CLASSIFICATION MODEL_DIR DATA_FILE OUTPUT_DIR
#
# Starts `mpirun -np 2 … train --distributed` on the tiny BERT (a checkpoint every 4 steps),
# waits for the first checkpoint, kills rank 1 with SIGKILL (no chance to clean up or to call
# MPI_Abort: the hardest case), times how long the job takes to end, then resumes with 2 ranks
# and checks that training continued from the checkpointed step and finished.
set -euo pipefail
mpiexec=$1 bin=$2 model=$3 data=$4 out=$5
fail() { echo "kill_rank: FAILED: $*"; for f in "$out".log "$out".resume.log; do
  [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done; exit 1; }

rm -rf "$out" "$out".log "$out".resume.log
args=(train --distributed --model "$model" --train "$data" --validation "$data"
      --max-train-examples 512 --max-validation-examples 32 --epochs 6 --batch-size 8
      --eval-every 4 --lr 1e-3 --threads 1 --output "$out")
# Every process of this job carries a tag of its own in its environment, so that only this
# job's rank 1 is killed when CTest runs other MPI tests of the same program at the same time.
tag="kill_rank_$$_$RANDOM"
launch=("$mpiexec" --allow-run-as-root --oversubscribe -x "EMBER_KILL_TAG=$tag" -np 2)

"${launch[@]}" "$bin" "${args[@]}" >"$out".log 2>&1 &
job=$!
stop_job() { kill -TERM "$job" 2>/dev/null || true; }  # mpirun passes it on to the ranks
trap stop_job EXIT
for _ in $(seq 600); do  # the first checkpoint, 60 s at most
  [ -f "$out/checkpoint/trainer_state.json" ] && break
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
[ -f "$out/checkpoint/trainer_state.json" ] || fail "no checkpoint"

# Rank 1 of this job: the process whose environment has this job's tag and rank 1.
victim=""
for pid in $(pgrep -f -- "$bin" || true); do
  if grep -qzx "EMBER_KILL_TAG=$tag" "/proc/$pid/environ" 2>/dev/null &&
     grep -qzx 'OMPI_COMM_WORLD_RANK=1' "/proc/$pid/environ" 2>/dev/null; then
    victim=$pid
  fi
done
[ -n "$victim" ] || fail "rank 1 not found (the run ended before the kill?)"
kill -9 "$victim" || fail "rank 1 (pid $victim) ended before it could be killed"
start=$(date +%s%N)
for _ in $(seq 600); do
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$job" 2>/dev/null; then
  fail "the job was still running 60 s after rank 1 was killed"
fi
rc=0
wait "$job" || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -ne 0 ] || fail "the job exited 0 after a rank was killed"
grep -q "rank 1" "$out".log || fail "no message names rank 1"
echo "kill_rank: killed rank 1 (pid $victim); the job ended with exit code $rc after ${elapsed_ms} ms:"
grep -m 3 -i "rank 1\|killed\|signal" "$out".log | sed 's/^/  | /'

# Resume with the same world size: continues from the checkpoint and finishes.
step=$(sed -n 's/.*"global_step": *\([0-9]*\).*/\1/p' "$out/checkpoint/trainer_state.json" | head -1)
timeout 240 "${launch[@]}" "$bin" "${args[@]}" --resume >"$out".resume.log 2>&1 ||
  fail "--resume failed"
grep -q "resumed from .*checkpoint at step $step\$" "$out".resume.log ||
  fail "--resume did not continue from the checkpoint's step $step"
grep -q "^accuracy: " "$out".resume.log || fail "--resume did not finish"
echo "kill_rank: $(grep -m 1 'resumed from' "$out".resume.log) (checkpoint said $step); finished:"
grep -m 1 "^training:" "$out".resume.log | sed 's/^/  | /'
echo "kill_rank: passed"
