#!/bin/sh
# Intel's OpenCL runtime for x86 CPUs, from its PyPI wheels, without root:
# a third OpenCL implementation of the same CPU beside PoCL and rusticl
# (it vectorises across the work-items of a work-group, as GPU compilers
# do; ../shared/PORTABILITY.md). Usage:
#   tools/intel_opencl_cpu.sh [DEST]     (default $HOME/.cache/clresnet-intel-opencl)
# then run with the two variables it prints, e.g.
#   eval "$(tools/intel_opencl_cpu.sh)"; clresnet list-devices
# (.ci/run: the device suite on it, CLRESNET_TEST_DEVICE=intel).
set -eu
DEST=${1:-${HOME:-/root}/.cache/clresnet-intel-opencl}
# pinned: the versions the project measured (README, Speed)
WHEELS="intel-opencl-rt==2026.2.0 intel-cmplr-lib-rt==2026.2.0 tbb==2023.2.0"
if [ ! -f "$DEST/icd/intel.icd" ]; then
    mkdir -p "$DEST/wheels" "$DEST/icd"
    if ! python3 -m pip --version > /dev/null 2>&1; then
        echo "intel_opencl_cpu.sh: python3 -m pip is missing (apt-get install python3-pip)" >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    python3 -m pip download --quiet --no-deps --dest "$DEST/wheels" $WHEELS >&2
    for w in "$DEST"/wheels/*.whl; do python3 -m zipfile -e "$w" "$DEST/x" >&2; done
    lib=$(dirname "$(find "$DEST/x" -name 'libintelocl.so' | head -1)")
    [ -n "$lib" ] && [ -f "$lib/libintelocl.so" ] || { echo "intel_opencl_cpu.sh: no libintelocl.so in the wheels" >&2; exit 1; }
    echo "$lib/libintelocl.so" > "$DEST/icd/intel.icd"
fi
libs=$(find "$DEST/x" -path '*/data/lib' -type d | sort | tr '\n' ':')
echo "export OCL_ICD_VENDORS='$DEST/icd' LD_LIBRARY_PATH='${libs%:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}'"
