#!/usr/bin/env sh
# Prints the cargo feature flags for this machine: BN254 field arithmetic in x86-64
# assembly (`zkinfer-prover/asm`, MULX/ADX) when the CPU has BMI2 and ADX. Proofs are the
# same either way; the assembly proves about 10-15% faster.
if [ "$(uname -m)" = x86_64 ] && grep -qw adx /proc/cpuinfo 2>/dev/null && grep -qw bmi2 /proc/cpuinfo 2>/dev/null; then
  echo "--features zkinfer-prover/asm"
fi
