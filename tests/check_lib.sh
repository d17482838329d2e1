# Shared by the command-line test scripts (sourced): check() runs a command
# and wants an exit code and a pattern in its output; a failure sets fail=1.
fail=0
check() { # check NAME EXPECTED_RC PATTERN -- command...
    name=$1 want=$2 pat=$3; shift 4
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want" ]; then echo "FAIL $name: exit $rc, want $want"; echo "$out"; fail=1; return; fi
    if ! printf '%s' "$out" | grep -q -- "$pat"; then echo "FAIL $name: no '$pat' in:"; echo "$out"; fail=1; return; fi
    echo "ok   $name"
}
