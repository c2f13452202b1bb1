#!/usr/bin/env bats
# What the README's "Numerics and reproducibility" promises, checked as stated: on one build, BLAS
# kernel and thread count, predict and cam give the same bytes for any --batch; across the OpenBLAS
# kernels this CPU runs and across 1 and 2 threads, scores agree within 1e-5 and heatmaps within 1e-4.
load helper

# meso4 (direct convolutions, a dense layer of 1024 inputs) and efficientnet-b0 (GEMM and pointwise
# convolutions, depthwise, squeeze-excitation), one epoch each on a small set: the weights only need
# to be generic, not good.
setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    synth --role celeb --split train --videos 4 --frames 4 --size 32 --seed 3 > t.dft
    synth --role celeb --split val --videos 2 --frames 4 --size 32 --seed 3 > v.dft
    synth --role celeb --split test --videos 2 --frames 4 --size 32 --seed 3 > te.dft
    for arch in meso4 efficientnet-b0; do
        train --arch "$arch" --train t.dft --val v.dft -o "$arch.ckpt" --epochs 1 --batch 8 --seed 4 2> /dev/null
    done
    "$ROOT/tests/matrix.sh" --list > kernels
}

# with_kernel CORE THREADS CMD...: CMD under OPENBLAS_CORETYPE=CORE ("" leaves it unset) and
# OMP_NUM_THREADS=THREADS (the tools' default thread count; OpenBLAS's too)
with_kernel() {
    local core=$1 threads=$2
    shift 2
    if [ -n "$core" ]; then OPENBLAS_CORETYPE=$core OMP_NUM_THREADS=$threads "$@"
    else env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$threads" "$@"; fi
}

@test "numerics: predict and cam give the same bytes for any --batch, on every kernel and thread count" {
    for arch in meso4 efficientnet-b0; do
        m="$BATS_FILE_TMPDIR/$arch.ckpt"
        layer=()   # at 32x32 efficientnet-b0's last spatial layers are 2x2
        [ $arch = efficientnet-b0 ] && layer=(--layer block5c.add)
        for core in "" $(cat "$BATS_FILE_TMPDIR/kernels"); do
            for threads in 1 2; do
                with_kernel "$core" $threads predict -m "$m" --batch 1 "$BATS_FILE_TMPDIR/te.dft" > s1.tsv
                with_kernel "$core" $threads predict -m "$m" --batch 4 "$BATS_FILE_TMPDIR/te.dft" > s4.tsv
                with_kernel "$core" $threads predict -m "$m" "$BATS_FILE_TMPDIR/te.dft" > s64.tsv
                cmp s1.tsv s4.tsv || { echo "$arch ${core:-default} $threads: predict --batch 1 vs 4"; false; }
                cmp s1.tsv s64.tsv || { echo "$arch ${core:-default} $threads: predict --batch 1 vs 64"; false; }
                with_kernel "$core" $threads cam -m "$m" "${layer[@]}" --batch 1 < "$BATS_FILE_TMPDIR/te.dft" > c1.dft
                with_kernel "$core" $threads cam -m "$m" "${layer[@]}" --batch 5 < "$BATS_FILE_TMPDIR/te.dft" > c5.dft
                cmp c1.dft c5.dft || { echo "$arch ${core:-default} $threads: cam --batch 1 vs 5"; false; }
            done
        done
    done
}

@test "numerics: other kernels and thread counts agree within the stated tolerances" {
    for arch in meso4 efficientnet-b0; do
        m="$BATS_FILE_TMPDIR/$arch.ckpt"
        layer=()   # at 32x32 efficientnet-b0's last spatial layers are 2x2
        [ $arch = efficientnet-b0 ] && layer=(--layer block5c.add)
        with_kernel "" 1 predict -m "$m" "$BATS_FILE_TMPDIR/te.dft" > ref.tsv
        with_kernel "" 1 cam -m "$m" "${layer[@]}" < "$BATS_FILE_TMPDIR/te.dft" > cref.dft
        for core in "" $(cat "$BATS_FILE_TMPDIR/kernels"); do
            for threads in 1 2; do
                with_kernel "$core" $threads predict -m "$m" "$BATS_FILE_TMPDIR/te.dft" > s.tsv
                # the score columns (every column after the key and label) within 1e-5
                d=$(scores_maxdiff ref.tsv s.tsv)
                awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' ||
                    { echo "$arch ${core:-default} $threads: scores differ by $d (> 1e-5)"; false; }
                with_kernel "$core" $threads cam -m "$m" "${layer[@]}" < "$BATS_FILE_TMPDIR/te.dft" > c.dft
                d=$(f32_maxdiff cref.dft c.dft)
                awk -v d="$d" 'BEGIN { exit !(d <= 1e-4) }' ||
                    { echo "$arch ${core:-default} $threads: cam maps differ by $d (> 1e-4)"; false; }
            done
        done
    done
}

@test "numerics: batch_invariant (the GPU tool tests' --batch check) needs bytes on the cpu, the tolerances elsewhere" {
    printf 'key\tdataset\tlabel\tp_fake\na/1\tx\t1\t0.5\nb/2\tx\t0\t0.25\n' > a.tsv
    printf 'key\tdataset\tlabel\tp_fake\na/1\tx\t1\t0.500004\nb/2\tx\t0\t0.25\n' > near.tsv
    printf 'key\tdataset\tlabel\tp_fake\na/1\tx\t1\t0.5001\nb/2\tx\t0\t0.25\n' > far.tsv
    printf 'key\tdataset\tlabel\tp_fake\nb/2\tx\t1\t0.5\na/1\tx\t0\t0.25\n' > swapped.tsv
    DFS_DEVICE=cpu run batch_invariant scores a.tsv near.tsv
    assert_failure
    DFS_DEVICE=cpu-split run batch_invariant scores a.tsv a.tsv
    assert_success
    DFS_DEVICE=cuda run batch_invariant scores a.tsv near.tsv
    assert_success
    DFS_DEVICE=cuda run batch_invariant scores a.tsv far.tsv
    assert_failure
    DFS_DEVICE=cuda run batch_invariant scores a.tsv swapped.tsv
    assert_failure
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" < "$BATS_FILE_TMPDIR/te.dft" > c.dft
    DFS_DEVICE=cuda run batch_invariant maps c.dft c.dft
    assert_success
    cam -m "$BATS_FILE_TMPDIR/meso4.ckpt" --class real < "$BATS_FILE_TMPDIR/te.dft" > r.dft
    DFS_DEVICE=cuda run batch_invariant maps c.dft r.dft
    assert_failure
}
