#!/usr/bin/env bats
# cam: the Grad-CAM tool on freshly initialised checkpoints (made by the unit test binary's
# --make-ckpt path, so no training tool is needed) and synthetic faces. The numerics are checked
# against PyTorch in tests/unit/test_cam.c; here the CLI contract.
load helper

MAKE_CKPT="$ROOT/build/tests/test_cam"

setup_file() {
    local d="$BATS_FILE_TMPDIR"
    "$ROOT/build/tests/test_cam" --make-ckpt meso4 64 "$d/meso4.ckpt"
    "$ROOT/build/tests/test_cam" --make-ckpt shallownet 32 "$d/shallow.ckpt"
    "$ROOT/bin/synth" --role fs --videos 2 --frames 3 --size 64 --seed 5 > "$d/faces64.dft"
    "$ROOT/bin/synth" --role fs --videos 2 --frames 1 --size 32 --seed 5 > "$d/faces32.dft"
}

@test "cam: --help exits 0 and names the options" {
    run cam --help
    assert_success
    assert_output --partial "usage: cam"
    assert_output --partial "--layer"
    assert_output --partial "--compat study"
}

@test "cam: unknown flag is a one-line error" {
    run --separate-stderr cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --bogus < "$BATS_FILE_TMPDIR/faces64.dft"
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"--bogus"* ]]
}

@test "cam: missing checkpoint names the file" {
    run --separate-stderr cam -m nowhere.ckpt < "$BATS_FILE_TMPDIR/faces64.dft"
    assert_failure
    [[ "$stderr" == *"nowhere.ckpt"* ]]
    assert_no_files heat.dft
}

@test "cam: unknown layer names the architecture and usable layers" {
    run --separate-stderr cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --layer block9.relu < "$BATS_FILE_TMPDIR/faces64.dft"
    assert_failure
    [[ "$stderr" == *"meso4"* ]]
    [[ "$stderr" == *"block9.relu"* ]]
    [[ "$stderr" == *"block4.relu"* ]]
}

@test "cam: an image of the wrong size is refused, no output left" {
    run --separate-stderr cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" -o heat.dft < "$BATS_FILE_TMPDIR/faces32.dft"
    assert_failure
    [[ "$stderr" == *"32x32"* ]]
    [[ "$stderr" == *"64x64"* ]]
    assert_no_files heat.dft
    assert_no_temporaries
}

@test "cam: one f32 (S, S) record per image in [0, 1] with key, label, layer and class" {
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --batch 4 < "$BATS_FILE_TMPDIR/faces64.dft" > heat.dft
    run pack --list heat.dft
    assert_success
    [ "${#lines[@]}" -eq 6 ]
    [[ "${lines[0]}" == *"f32"* && "${lines[0]}" == *"64x64"* ]]
    pack --list "$BATS_FILE_TMPDIR/faces64.dft" | awk '{print $2, $3}' > want
    pack --list heat.dft | awk '{print $2, $3}' > got
    cmp want got
    run grep -a -c "layer=block4.relu" heat.dft
    [ "$output" -eq 6 ]
    run grep -a -c "class=fake" heat.dft
    [ "$output" -eq 6 ]
}

@test "cam: batching does not change the maps (same bytes on the cpu) and repeated runs give the same bytes" {
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --batch 1 < "$BATS_FILE_TMPDIR/faces64.dft" > a.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --batch 5 < "$BATS_FILE_TMPDIR/faces64.dft" > b.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --batch 5 < "$BATS_FILE_TMPDIR/faces64.dft" > c.dft
    batch_invariant maps a.dft b.dft
    cmp b.dft c.dft
}

@test "cam: --class real, --layer and --guided change the maps" {
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" < "$BATS_FILE_TMPDIR/faces64.dft" > fake.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --class real < "$BATS_FILE_TMPDIR/faces64.dft" > real.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --layer block3.relu < "$BATS_FILE_TMPDIR/faces64.dft" > l3.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --guided < "$BATS_FILE_TMPDIR/faces64.dft" > g.dft
    ! cmp -s fake.dft real.dft
    ! cmp -s fake.dft g.dft
    run grep -a -c "class=real" real.dft
    [ "$output" -eq 6 ]
    run grep -a -c "layer=block3.relu" l3.dft
    [ "$output" -eq 6 ]
}

@test "cam: --png writes one valid PNG per key, --overlay too" {
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --png png < "$BATS_FILE_TMPDIR/faces64.dft" > heat.dft
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --png over --overlay < "$BATS_FILE_TMPDIR/faces64.dft" > heat2.dft
    cmp heat.dft heat2.dft
    [ "$(ls png | wc -l)" -eq 6 ]
    [ "$(ls over | wc -l)" -eq 6 ]
    for f in png/*.png over/*.png; do
        pack --label fake "$f" > one.dft
    done
    pack --label fake png/*.png > packed.dft
    run pack --list packed.dft
    [ "${#lines[@]}" -eq 6 ]
    [[ "${lines[0]}" == *"64x64x3"* ]]
    ! cmp -s "png/$(ls png | head -1)" "over/$(ls png | head -1)"
    assert_no_temporaries png
}

@test "cam: --overlay needs --png" {
    run --separate-stderr cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --overlay < "$BATS_FILE_TMPDIR/faces64.dft"
    assert_failure
    [[ "$stderr" == *"--png"* ]]
}

@test "cam: --compat study gives u8 (S, S, 3) images that ssim can compare" {
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --compat study < "$BATS_FILE_TMPDIR/faces64.dft" > s1.dft
    run pack --list s1.dft
    [ "${#lines[@]}" -eq 6 ]
    [[ "${lines[0]}" == *"u8"* && "${lines[0]}" == *"64x64x3"* ]]
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --compat study --class real < "$BATS_FILE_TMPDIR/faces64.dft" > s2.dft
    run --separate-stderr ssim s1.dft s2.dft
    assert_success
    [ "${#lines[@]}" -eq 7 ]
    run --separate-stderr cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --compat paper < "$BATS_FILE_TMPDIR/faces64.dft"
    assert_failure
}

@test "cam: other architectures use their default layer" {
    cam -m "$BATS_FILE_TMPDIR/shallow.ckpt" < "$BATS_FILE_TMPDIR/faces32.dft" > heat.dft
    run grep -a -c "layer=block3.relu2" heat.dft
    [ "$output" -eq 2 ]
}

@test "cam --progress: the images done on stderr, the maps unchanged; --threads N as OMP_NUM_THREADS=N" {
    local f="$BATS_FILE_TMPDIR/faces64.dft" m="$BATS_FILE_TMPDIR/meso4.ckpt"
    OMP_NUM_THREADS=1 cam -m "$m" --batch 2 < "$f" > plain.dft
    run --separate-stderr cam -m "$m" --batch 2 --threads 1 --progress -o prog.dft < "$f"
    assert_success
    cmp plain.dft prog.dft
    # one line, rewritten in place (\r) per batch, ending at the stream's 6 images
    local last=${stderr##*$'\r'}
    [[ "$last" =~ ^cam:\ images\ 6\ [0-9.]+/s\ *$ ]] || { printf "%q\n" "$stderr"; false; }
    run --separate-stderr cam -m "$m" --threads 0 < "$f"
    assert_failure
    assert_equal "$stderr" "cam: --threads: '0' is not an integer in [1, 1024]"
}
