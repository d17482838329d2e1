#!/bin/sh
# The command line: help, version, list-devices, and bad --device values.
set -u
. "$(dirname "$0")/../check_lib.sh"
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
check device-by-name 1 "'no-such-device-9z' is not a device" -- $C --device no-such-device-9z list-devices --check
# The test device (a test setup's CLRESNET_TEST_DEVICE, e.g. rusticl): its
# kernels build and its GEMM agrees; skipped (77) where it is absent.
if [ -n "${CLRESNET_TEST_DEVICE:-}" ]; then
    if $C --device "$CLRESNET_TEST_DEVICE" list-devices --check 2>&1 | grep -q 'is not a device\|is out of range'; then
        echo "SKIP: CLRESNET_TEST_DEVICE=$CLRESNET_TEST_DEVICE is not on this machine"
        [ $fail -eq 0 ] && exit 77
    else
        check test-device-check 0 'check: ok' -- $C --device "$CLRESNET_TEST_DEVICE" list-devices --check
    fi
fi
exit $fail
