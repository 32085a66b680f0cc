#!/usr/bin/env bash
# The demo's rerun promise, checked on the quick demo: killed with SIGKILL (the script, the launcher and both
# ranks) during the student stage, once the student has written a checkpoint, then rerun, it skips the world, the
# five teachers and the pseudo-labels, resumes the student from its checkpoint and completes the table.
#   scripts/check_demo_resume.sh [OUT_DIR (default runs/demo_quick; emptied first)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/demo_quick}"
rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
say() { echo "check_demo_resume: $*" >&2; }

# setsid: the demo leads a process group of its own, so one kill reaches every process it started.
setsid "$root/scripts/demo.sh" --quick "$out" > "$out/killed_run.txt" 2>&1 &
demo=$!
deadline=$((SECONDS + 1800))
until [[ -f "$out/student/last_checkpoint" ]]; do
  if ! kill -0 "$demo" 2> /dev/null; then
    say "the demo ended before the student wrote a checkpoint:"; tail -20 "$out/killed_run.txt" >&2; exit 1
  fi
  if (( SECONDS > deadline )); then kill -KILL -- "-$demo"; say "no student checkpoint within 30 minutes"; exit 1; fi
  sleep 0.05
done
kill -KILL -- "-$demo"
wait "$demo" 2> /dev/null || true
if [[ -f "$out/student/model_final.safetensors" ]]; then
  say "the student finished before the kill landed; nothing was checked"; exit 1
fi
checkpoints=("$out"/student/checkpoint_*.safetensors)
say "killed during the student stage at its checkpoint ${checkpoints[-1]##*/}; rerunning"

"$root/scripts/demo.sh" --quick "$out" | tee "$out/rerun.txt"
expect() {  # expect COUNT TEXT: the rerun printed TEXT on COUNT lines
  local found
  found=$(grep -cF -- "$2" "$out/rerun.txt" || true)
  [[ $found == "$1" ]] || { say "the rerun printed '$2' $found times, expected $1"; exit 1; }
}
expect 1 "   written earlier"
expect 5 ": finished earlier"
expect 1 "   finished earlier (verified)"
expect 1 "$out/student: resuming"
[[ -f "$out/report.md" ]] || { say "the rerun wrote no report"; exit 1; }
say "the rerun skipped stages 2-4, resumed the student and wrote $out/report.md"
