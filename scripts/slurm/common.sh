# Sourced by the sbatch scripts of scripts/slurm/ once they know the repository (`root`): the build, the device
# and threads of each rank, and a line saying where the job runs.
# Environment (sbatch passes the submitter's): MUST_BUILD_DIR (default build/), DEVICE (default cuda: each rank its
# cuda:SLURM_LOCALID, so ask for GPUs per node, not per task; cpu where there is none).
bin="${MUST_BUILD_DIR:-$root/build}/bin"
device="${DEVICE:-cuda}"
threads="${SLURM_CPUS_PER_TASK:-1}"
cd "$root"  # configs name other configs relative to the repository
# The ranks meet on the first host of the job at a port of the job id (the tools read SLURM_JOB_NODELIST and
# SLURM_JOB_ID themselves); a requeued job sees SLURM_RESTART_COUNT and continues where the last attempt stopped.
echo "$(date -Is) job ${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID)}, restart" \
  "${SLURM_RESTART_COUNT:-0}: ${SLURM_NTASKS} rank(s) on ${SLURM_JOB_NODELIST}, device $device, $threads thread(s) each"
