#!/usr/bin/env bats
# ssim: the CLI on the committed fixtures (tests/make-fixtures-ssim.py), checked against
# scikit-image 0.19's values in tests/fixtures/ssim/reference.tsv.
load helper

F="$ROOT/tests/fixtures/ssim"

# compare an ssim TSV with the reference for a window mode and data range ("dtype" or a number);
# every cell ssim_i_j must be within 1e-5 of skimage and mean the mean of the pair cells
check_against_reference() {   # tsv mode data_range [key-prefix]
    awk -F'\t' -v mode="$2" -v dr="$3" -v prefix="${4:-}" '
        FNR == NR { if (FNR > 1 && $2 == mode && $3 == dr) ref[$1 "\t" $4] = $5; next }
        FNR == 1 { for (c = 2; c < NF; c++) { split(substr($c, 6), ij, "_"); pair[c] = ij[1] "_" ij[2] }
                   if ($NF != "mean") { print "no mean column"; bad = 1 }; next }
        {
            if (prefix != "" && index($1, prefix) != 1) next
            sum = 0
            for (c = 2; c < NF; c++) {
                k = $1 "\t" pair[c]
                if (!(k in ref)) { print "no reference for " k; bad = 1; continue }
                d = $c - ref[k]; if (d < 0) d = -d
                if (d > 1e-5) { print k ": " $c " vs skimage " ref[k]; bad = 1 }
                sum += $c; n++
            }
            m = sum / (NF - 2); d = $NF - m; if (d < 0) d = -d
            if (d > 2e-6) { print $1 ": mean " $NF " vs " m; bad = 1 }
            rows++
        }
        END { if (rows == 0 || n == 0) { print "nothing compared"; bad = 1 }; exit bad }
    ' "$F/reference.tsv" "$1"
}

# the histogram the study would draw from a TSV's mean column
hist_of() {
    awk -F'\t' 'NR > 1 { if ($NF < 0.7) a++; else if ($NF < 0.9) b++; else c++ }
                END { printf "%d %d %d\n", a, b, c }' "$1"
}

@test "ssim: --help describes the columns and exits 0" {
    run ssim --help
    assert_success
    assert_output --partial "usage: ssim"
    assert_output --partial "ssim_1_2"
    assert_output --partial "--intersect"
    assert_output --partial "--gaussian"
}

@test "ssim: unknown flag is a one-line error" {
    run --separate-stderr ssim --bogus "$F/a.dft" "$F/b.dft"
    assert_failure
    [ "$stderr" = "ssim: unknown option '--bogus' (see --help)" ]
    [ -z "$output" ]
}

@test "ssim: two streams match skimage (7x7 uniform, dtype range) for grey, colour, heatmaps" {
    ssim "$F/a.dft" "$F/b.dft" > out.tsv 2> hist.txt
    [ "$(head -1 out.tsv)" = "$(printf 'key\tssim_1_2\tmean')" ]
    [ "$(wc -l < out.tsv)" -eq 19 ]
    # first stream's order
    [ "$(sed -n 2p out.tsv | cut -f1)" = "gray/identical" ]
    [ "$(tail -1 out.tsv | cut -f1)" = "heat/inverted" ]
    check_against_reference out.tsv uniform dtype
}

@test "ssim: three streams give all pairs and their mean, matching skimage" {
    ssim "$F/a.dft" "$F/b.dft" "$F/c.dft" > out.tsv 2> /dev/null
    [ "$(head -1 out.tsv)" = "$(printf 'key\tssim_1_2\tssim_1_3\tssim_2_3\tmean')" ]
    [ "$(wc -l < out.tsv)" -eq 19 ]
    check_against_reference out.tsv uniform dtype
    # stream order only renames the columns: (c, a) is the reference's pair 1_3
    ssim "$F/c.dft" "$F/a.dft" 2> /dev/null | awk -F'\t' 'NR > 1 { print $1 "\t" $2 }' | sort > ca
    awk -F'\t' 'NR > 1 { print $1 "\t" $3 }' out.tsv | sort > ac
    cmp ca ac
}

@test "ssim: --gaussian matches skimage's gaussian_weights, sigma 1.5, population covariance" {
    ssim --gaussian "$F/a.dft" "$F/b.dft" "$F/c.dft" > out.tsv 2> /dev/null
    check_against_reference out.tsv gaussian dtype
    ! cmp -s out.tsv <(ssim "$F/a.dft" "$F/b.dft" "$F/c.dft" 2> /dev/null)
}

@test "ssim: --data-range 1 matches skimage with data_range=1 on the f32 heatmaps" {
    ssim --data-range 1 "$F/a.dft" "$F/b.dft" "$F/c.dft" > out.tsv 2> /dev/null
    check_against_reference out.tsv uniform 1 heat/
    ssim --gaussian --data-range 1 "$F/a.dft" "$F/b.dft" "$F/c.dft" > out.tsv 2> /dev/null
    check_against_reference out.tsv gaussian 1 heat/
    # and it differs from the f32 default (range 2)
    ! check_against_reference out.tsv gaussian dtype heat/
}

@test "ssim: histogram of the means on stderr with the study's bins" {
    run --separate-stderr ssim "$F/a.dft" "$F/b.dft" "$F/c.dft"
    assert_success
    printf '%s\n' "$output" > out.tsv
    read -r lo mid hi < <(hist_of out.tsv)
    [ $((lo + mid + hi)) -eq 18 ]
    # the fixtures fill every bin
    [ "$lo" -gt 0 ]
    [ "$mid" -gt 0 ]
    [ "$hi" -gt 0 ]
    expected=$(printf 'bin\tcount\tpercent\n<0.7\t%d\t%.2f\n0.7-<0.9\t%d\t%.2f\n>=0.9\t%d\t%.2f\ntotal\t18\t100.00' \
        "$lo" "$(echo "100*$lo/18" | bc -l)" "$mid" "$(echo "100*$mid/18" | bc -l)" "$hi" "$(echo "100*$hi/18" | bc -l)")
    [ "$stderr" = "$expected" ]
    # the stdout carries the table only
    [ "$(grep -c total out.tsv)" -eq 0 ]
}

@test "ssim: --hist FILE takes the histogram off stderr; -o FILE writes the table" {
    run --separate-stderr ssim --hist hist.tsv -o out.tsv "$F/a.dft" "$F/b.dft"
    assert_success
    [ -z "$stderr" ]
    [ -z "$output" ]
    read -r lo mid hi < <(hist_of out.tsv)
    [ "$(sed -n 2p hist.tsv)" = "$(printf '<0.7\t%d\t%.2f' "$lo" "$(echo "100*$lo/18" | bc -l)")" ]
    [ "$(cut -f2 hist.tsv | sed -n 3,4p | tr '\n' ' ')" = "$mid $hi " ]
    [ "$(tail -1 hist.tsv)" = "$(printf 'total\t18\t100.00')" ]
    assert_no_temporaries
}

@test "ssim: stdin as one stream; same output for 1 and 2 threads" {
    ssim "$F/a.dft" "$F/b.dft" "$F/c.dft" > files.tsv 2> /dev/null
    ssim "$F/a.dft" - "$F/c.dft" < "$F/b.dft" > stdin.tsv 2> /dev/null
    cmp files.tsv stdin.tsv
    OMP_NUM_THREADS=1 ssim "$F/a.dft" "$F/b.dft" "$F/c.dft" > one.tsv 2> /dev/null
    OMP_NUM_THREADS=2 ssim "$F/a.dft" "$F/b.dft" "$F/c.dft" > two.tsv 2> /dev/null
    cmp files.tsv one.tsv
    cmp one.tsv two.tsv
    run --separate-stderr ssim - - < "$F/a.dft"
    assert_failure
    [[ "$stderr" == *"standard input can be only one"* ]]
}

@test "ssim: a key missing from a stream is an error naming the file and the key" {
    run --separate-stderr ssim -o out.tsv "$F/a.dft" "$F/one.dft"
    assert_failure
    [ "$stderr" = "ssim: $F/one.dft: key 'gray/identical' ($F/a.dft record 0) is missing" ]
    assert_no_files out.tsv
    assert_no_temporaries
    run --separate-stderr ssim "$F/one.dft" "$F/b.dft"
    assert_failure
    [[ "$stderr" == "ssim: $F/b.dft: record "*": key '"*"' is not in $F/one.dft" ]]
}

@test "ssim: --intersect keeps the keys present in every stream and reports the rest" {
    run --separate-stderr ssim --intersect --hist hist.tsv "$F/a.dft" "$F/one.dft" "$F/c.dft"
    assert_success
    [ "$(printf '%s\n' "$output" | wc -l)" -eq 2 ]
    [ "$(printf '%s\n' "$output" | sed -n 2p | cut -f1)" = "gray/near" ]
    [[ "$stderr" == *"$F/a.dft: 17 records without a match in every stream skipped (--intersect)"* ]]
    [[ "$stderr" == *"$F/c.dft: 17 records"* ]]
    [[ "$stderr" != *"one.dft"* ]]
    [ "$(tail -1 hist.tsv)" = "$(printf 'total\t1\t100.00')" ]
    # one.dft holds stream b's gray/near: the values are skimage's pairs 1_2, 1_3, 2_3
    printf '%s\n' "$output" > out.tsv
    check_against_reference out.tsv uniform dtype gray/near
}

@test "ssim: records of one key with different shapes are an error" {
    run --separate-stderr ssim --intersect -o out.tsv "$F/a.dft" "$F/shape.dft"
    assert_failure
    [ "$stderr" = "ssim: $F/shape.dft: key 'gray/near': u8 32x40x3 differs from u8 32x40x1 in $F/a.dft" ]
    assert_no_files out.tsv
    assert_no_temporaries
}

@test "ssim: a missing file or a damaged stream is a one-line error, no output" {
    run --separate-stderr ssim -o out.tsv "$F/a.dft" nonexistent.dft
    assert_failure
    [ "$stderr" = "ssim: nonexistent.dft: No such file or directory" ]
    head -c 3000 "$F/b.dft" > bad.dft
    run --separate-stderr ssim -o out.tsv "$F/a.dft" bad.dft
    assert_failure
    [[ "$stderr" == "ssim: bad.dft: record "*": truncated"* ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    printf 'not a stream at all, just text padding it out past one header of 128 bytes......................................................\n' > text.dft
    run --separate-stderr ssim -o out.tsv text.dft "$F/a.dft"
    assert_failure
    [[ "$stderr" == "ssim: text.dft: record 0: "* ]]
    cat "$F/b.dft" "$F/one.dft" > dup.dft
    run --separate-stderr ssim "$F/a.dft" dup.dft
    assert_failure
    [[ "$stderr" == "ssim: dup.dft: record 18: duplicate key 'gray/near' (first at record "*")" ]]
    assert_no_files out.tsv
    assert_no_temporaries
}

@test "ssim: argument errors" {
    run --separate-stderr ssim "$F/a.dft"
    assert_failure
    [ "$stderr" = "ssim: needs at least two streams (see --help)" ]
    run --separate-stderr ssim --data-range 0 "$F/a.dft" "$F/b.dft"
    assert_failure
    [ "$stderr" = "ssim: --data-range: 0 is not positive" ]
    run --separate-stderr ssim --data-range abc "$F/a.dft" "$F/b.dft"
    assert_failure
    [[ "$stderr" == "ssim: --data-range: "* ]]
    run --separate-stderr ssim "$F/a.dft" "$F/b.dft" --hist
    assert_failure
    [ "$stderr" = "ssim: --hist needs a value" ]
}
