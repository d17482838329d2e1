# Shared by the command-line test scripts (sourced): check() runs a command
# and wants an exit code and a pattern in its output; a failure sets fail=1.
fail=0
# Nothing of the caller's environment reaches the program under test: the
# variables it reads are set by each check that wants them (meson sets
# CLRESNET, CLRESNET_CACHE_DIR and CLRESNET_FIXTURES).
unset CLRESNET_DATA CLRESNET_GEMM CLRESNET_BN_LAYOUT CLRESNET_PROGRESS_SECONDS XDG_CACHE_HOME \
    OMPI_COMM_WORLD_SIZE PMIX_RANK PMI_SIZE PMI_RANK
# the device's default GEMM plan, never a measured (timing-dependent) one;
# test_tune.sh measures in a cache folder of its own
export CLRESNET_AUTOTUNE=0
# wait_for_line PATTERN FILE PID: until FILE holds a line matching PATTERN (a
# state the program reports), or PID has ended without it (then it fails)
wait_for_line() {
    while ! grep -q -- "$1" "$2" 2>/dev/null; do
        if ! kill -0 "$3" 2>/dev/null; then
            grep -q -- "$1" "$2" 2>/dev/null && return 0
            echo "FAIL wait-for-line: process $3 ended without '$1' in $2"; cat "$2"; fail=1; return 1
        fi
        sleep 0.1
    done
}
check() { # check NAME EXPECTED_RC PATTERN -- command...
    name=$1 want=$2 pat=$3; shift 4
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want" ]; then echo "FAIL $name: exit $rc, want $want"; echo "$out"; fail=1; return; fi
    if ! printf '%s' "$out" | grep -q -- "$pat"; then echo "FAIL $name: no '$pat' in:"; echo "$out"; fail=1; return; fi
    echo "ok   $name"
}
