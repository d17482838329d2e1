#!/bin/sh
# Renders a report.html in headless Chromium (Debian's `chromium`) to a PNG
# and checks that the page is not blank: enough distinct colours, and dark
# text pixels as well as coloured chart pixels.
#
#   check_report_render.sh [REPORT.html]
#
# Without an argument, the synthetic run of tests/eval/test_report.c is written
# first ($TEST_REPORT: that test program; CLRESNET_REPORT_DIR names where).
# Exit 77 (skipped) when chromium or Python's PIL is not installed. The PNG
# is left at $RENDER_PNG (default: next to the report, report.png; a
# temporary run folder is removed at the end).
set -eu
TMPDIR_MADE=

CHROMIUM=""
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then CHROMIUM=$c; break; fi
done
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: chromium is not installed (apt-get install chromium)"
    exit 77
fi
PY=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import PIL' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "SKIP: python3 with PIL is not installed (apt-get install python3-pil)"
    exit 77
fi

if [ $# -ge 1 ]; then
    REPORT=$(readlink -f "$1")
else
    : "${TEST_REPORT:?set TEST_REPORT to the test_report program, or give a report.html}"
    if [ -n "${CLRESNET_REPORT_DIR:-}" ]; then
        DIR=$CLRESNET_REPORT_DIR
        mkdir -p "$DIR"
    else
        DIR=$(mktemp -d /tmp/crn_render_XXXXXX)
        TMPDIR_MADE=$DIR
    fi
    CLRESNET_REPORT_DIR=$DIR CK_RUN_CASE=report CK_RUN_SUITE=report "$TEST_REPORT" >/dev/null
    REPORT=$DIR/report.html
fi
[ -f "$REPORT" ] || { echo "FAIL: $REPORT does not exist"; exit 1; }
PNG=${RENDER_PNG:-$(dirname "$REPORT")/report.png}
PROFILE=$(mktemp -d /tmp/crn_chromium_XXXXXX)
trap 'rm -rf "$PROFILE" ${TMPDIR_MADE:+"$TMPDIR_MADE"}' EXIT

# A crashpad handler or D-Bus may be missing in a container: both are harmless.
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$PROFILE" --window-size=1200,3000 \
    --screenshot="$PNG" "file://$REPORT" >/dev/null 2>&1 || true
[ -s "$PNG" ] || { echo "FAIL: chromium wrote no screenshot of $REPORT"; exit 1; }

"$PY" - "$PNG" <<'EOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
colors = im.getcolors(maxcolors=1 << 20) or []
n = len(colors)
px = list(im.getdata())
dark = sum(1 for r, g, b in px if r < 80 and g < 80 and b < 80)
blue = sum(1 for r, g, b in px if b > r + 40 and b > 100)          # bars, curves
red = sum(1 for r, g, b in px if r > 180 and g < 120 and b < 100)    # bars under the mark
white = sum(1 for r, g, b in px if r > 245 and g > 245 and b > 245)
print("render: %dx%d, %d colours, dark %.2f%%, blue %.2f%%, red %.2f%%, white %.1f%%" % (
    w, h, n, 100.0 * dark / len(px), 100.0 * blue / len(px), 100.0 * red / len(px), 100.0 * white / len(px)))
ok = n > 50 and dark > 0.002 * len(px) and blue > 0.005 * len(px) and white > 0.3 * len(px)
if not ok:
    print("FAIL: the rendered report looks blank or unreadable")
    sys.exit(1)
print("OK:", sys.argv[1])
EOF
