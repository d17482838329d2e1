#!/bin/sh
# `clresnet predict` as a user meets it: a file that cannot be read is one
# error line and the others are still classified (exit 1); folders (sorted,
# recursive); --json and --csv; --top bounded by the model's classes.
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
DATA=$(cd "$(dirname "$0")/.." && pwd)/fixtures/train_tiny
PNG=$(cd "$(dirname "$0")/.." && pwd)/fixtures/png
T=$(mktemp -d /tmp/clresnet-predict-cli-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
SMALL="--data $DATA --model baseline --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2"
A=$DATA/test/alpha

run() { # NAME command...: stdout in $T/NAME.out, stderr in $T/NAME.err, exit code in $T/NAME.rc
    n=$1; shift
    "$@" > "$T/$n.out" 2> "$T/$n.err"
    echo $? > "$T/$n.rc"
}
has() { # NAME FILE PATTERN: a line of FILE matches PATTERN
    if grep -q -- "$3" "$2"; then echo "ok   $1"; else echo "FAIL $1: no '$3' in $2:"; cat "$2"; fail=1; fi
}
hasnt() { # NAME FILE PATTERN: no line of FILE matches PATTERN
    if grep -q -- "$3" "$2"; then echo "FAIL $1: '$3' in $2:"; cat "$2"; fail=1; else echo "ok   $1"; fi
}
same() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: got '$2', want '$3'"; fail=1; fi
}

check train 0 "run $T/r: 1 epoch" -- $C --quiet train $SMALL --epochs 1 --out "$T/r"

# --- a missing file among good ones: the good ones are printed, one error line names it, exit 1
run miss $C predict "$T/r" "$A/alpha_00.jpg" "$T/nope.jpg" "$A/alpha_01.jpg"
same missing-exit "$(cat "$T/miss.rc")" 1
has missing-first-printed "$T/miss.out" "^$A/alpha_00.jpg$"
has missing-last-printed "$T/miss.out" "^$A/alpha_01.jpg$"
same missing-results "$(grep -c '^  1\. class' "$T/miss.out")" 2
has missing-error "$T/miss.err" "^clresnet: error: $T/nope.jpg: No such file"
same missing-one-error "$(grep -c 'error' "$T/miss.err")" 1

# --- a folder: its images in name order; a folder of folders is walked
run dir $C --quiet predict "$T/r" "$A"
same dir-exit "$(cat "$T/dir.rc")" 0
same dir-sorted "$(grep -v '^ ' "$T/dir.out" | tr '\n' ' ')" \
    "$A/alpha_00.jpg $A/alpha_01.jpg $A/alpha_02.jpg $A/alpha_03.jpg "
run tree $C --quiet predict "$T/r" "$DATA/test"
same tree-exit "$(cat "$T/tree.rc")" 0
same tree-count "$(grep -c '^/' "$T/tree.out")" "$(find "$DATA/test" -name '*.jpg' | wc -l)"
has tree-subfolder "$T/tree.out" "^$DATA/test/gamma/gamma_03.jpg$"
# the PNG fixtures: the good ones classified, each broken one its own error, everything else skipped
run png $C --quiet predict "$T/r" "$PNG"
same png-exit "$(cat "$T/png.rc")" 1
has png-good "$T/png.out" "^$PNG/rgb.png$"
has png-good-interlaced "$T/png.out" "^$PNG/interlaced_rgb.png$"
has png-bad "$T/png.err" "^clresnet: error: $PNG/truncated.png: corrupt PNG"
has png-not-image "$T/png.err" "^clresnet: error: $PNG/notimage.png: "
hasnt png-no-safetensors "$T/png.out" "pil_png.safetensors"
same png-every-file "$(( $(grep -c '^/' "$T/png.out") + $(grep -c '^clresnet: error: ' "$T/png.err") ))" \
    "$(ls "$PNG" | grep -c '\.png$')"
mkdir "$T/empty"
check empty-folder 1 "^clresnet: error: $T/empty: no .jpg, .jpeg or .png images" -- $C --quiet predict "$T/r" "$T/empty"
check nothing-read 1 "^clresnet: error: no image could be read" -- $C --quiet predict "$T/r" "$T/empty" "$T/nope.jpg"

# --- --json: one document on stdout, an entry per image with its top classes or its error
run json $C predict "$T/r" --json "$A/alpha_00.jpg" "$T/nope.jpg"
same json-exit "$(cat "$T/json.rc")" 1
same json-opens "$(head -1 "$T/json.out")" "{"
same json-closes "$(tail -1 "$T/json.out")" "}"
has json-images "$T/json.out" '^  "images": \[$'
has json-path "$T/json.out" "^      \"path\": \"$A/alpha_00.jpg\",$"
has json-top "$T/json.out" '^      "top": \[$'
has json-class "$T/json.out" '^          "class": [1-3],$'
has json-name "$T/json.out" '^          "name": "\(alpha\|beta\|gamma\)",$'
has json-probability "$T/json.out" '^          "probability": [0-9.e-]*$'
has json-error-path "$T/json.out" "^      \"path\": \"$T/nope.jpg\",$"
has json-error "$T/json.out" '^      "error": "No such file or directory"$'
hasnt json-only "$T/json.out" 'class  *[0-9]\|^/'
has json-stderr "$T/json.err" "^clresnet: error: $T/nope.jpg: No such file"
same json-entries "$(grep -c '^      "path"' "$T/json.out")" 2
same json-ranks "$(grep -c '^          "class"' "$T/json.out")" 3

# --- --csv: a header and a row per rank
run csv $C --quiet predict "$T/r" --csv --top 2 "$A"
same csv-exit "$(cat "$T/csv.rc")" 0
same csv-header "$(head -1 "$T/csv.out")" "path,rank,class,name,probability"
has csv-row "$T/csv.out" "^$A/alpha_00.jpg,1,[1-3],\(alpha\|beta\|gamma\),[01]\.[0-9]*$"
same csv-rows "$(wc -l < "$T/csv.out")" 9
check json-and-csv 2 "one of --json and --csv" -- $C predict "$T/r" --json --csv "$A"

# --- --top: more than the model's classes is bounded with a note; below 1 or not a number is an error
run top $C predict "$T/r" --top 500 "$A/alpha_00.jpg"
same top-exit "$(cat "$T/top.rc")" 0
has top-note "$T/top.err" "^clresnet: --top 500: the model has 3 classes; showing 3$"
same top-lines "$(grep -c '^  [0-9]*\. class' "$T/top.out")" 3
check top-0 2 "error: --top '0': want a positive integer" -- $C predict "$T/r" --top 0 "$A/alpha_00.jpg"
check top-not-number 2 "error: --top '2x': want a positive integer" -- $C predict "$T/r" --top 2x "$A/alpha_00.jpg"
check top-no-value 2 "error: --top needs a value" -- $C predict "$T/r" "$A/alpha_00.jpg" --top
check help-exit-status 0 "1 when any image could not be" -- $C predict --help

exit $fail
