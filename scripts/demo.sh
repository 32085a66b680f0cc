#!/usr/bin/env bash
# The MuST pipeline on the built-in world, on this machine's CPU: scripts/demo.sh [output dir]
#
# What runs today: set-up, then the world (teacher, unlabeled, validation and downstream splits) and a preview
# sheet of it. Teachers, pseudo-labels, the student and the evaluation table join as their tools are built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/demo_output}"
"$root/scripts/setup.sh"
bin="$root/build/bin"

echo "== 1. the world: $out/world"
"$bin/must_make_world" --config "$root/configs/world/world.yaml" --output-dir "$out/world"
"$bin/must_make_world" --config "$root/configs/world/world.yaml" --output-dir "$out/world" --preview 8
echo "   preview sheet (image | class map | depth | normals | boxes): $out/world/preview.png"

echo "== 2. teachers, 3. pseudo-labels, 4. student, 5. evaluation: not built yet"
for tool in must_train_teacher must_pseudolabel must_train_student must_eval; do
  "$bin/$tool" --output-dir "$out/$tool" 2>&1 | sed 's/^/   /' || true
done
