#!/usr/bin/env bash
# Starts tests/modesim with workspace acme, then runs a test program with SIM_URL set.
# usage: run_with_sim.sh MODESIM PROGRAM [ARGS...]
set -euo pipefail
modesim=$1
shift
. "$(dirname "$0")/../lib/sim.sh"
sim_start "$modesim" --workspace acme:adminkey:adminsecret
SIM_URL=$SIM_URL "$@"
