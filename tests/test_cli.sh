#!/bin/sh
# The command line: help, version, list-devices, and bad --device values.
set -u
fail=0
check() { # check NAME EXPECTED_RC PATTERN -- command...
    name=$1 want=$2 pat=$3; shift 4
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want" ]; then echo "FAIL $name: exit $rc, want $want"; echo "$out"; fail=1; return; fi
    if ! printf '%s' "$out" | grep -q -- "$pat"; then echo "FAIL $name: no '$pat' in:"; echo "$out"; fail=1; return; fi
    echo "ok   $name"
}
C=$CLRESNET
check help 0 'list-devices' -- $C --help
check version 0 '^clresnet [0-9]' -- $C --version
check command-help 0 'usage: clresnet list-devices' -- $C list-devices --help
check list-devices 0 'Platform 0' -- $C list-devices
check list-shows-props 0 'compute units' -- $C list-devices
check no-command 2 'usage' -- $C
check unknown-command 2 "unknown command 'frobnicate'" -- $C frobnicate
check unknown-option 2 "unknown option '--frob'" -- $C --frob list-devices
check device-no-value 2 'needs a value' -- $C --device
check device-out-of-range 1 'valid choices' -- $C --device 99 list-devices --check
check device-not-a-number 1 "'abc' is not a device" -- $C --device abc list-devices --check
check device-check 0 'check: ok' -- $C --device 0 list-devices --check
exit $fail
