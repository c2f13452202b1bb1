#!/usr/bin/env bats
# train --summary: layer tables and Keras-exact parameter counts of the five architectures.
load helper

@test "train --summary: parameter counts at 256 match Keras for all five architectures" {
    run train --arch meso4 --summary
    assert_success
    assert_line --index 0 --regexp '^node +kind +output +params +inputs$'
    assert_line 'params: total=28073 trainable=27977'
    run train --arch mesoinception4 --size 256 --summary
    assert_success
    assert_line 'params: total=28725 trainable=28615'
    run train --arch shallownet --summary
    assert_success
    assert_line 'params: total=118080289 trainable=118078241'
    run train --arch xception --summary
    assert_success
    assert_line 'params: total=20865578 trainable=20811050'
    run train --arch efficientnet-b0 --summary
    assert_success
    assert_line 'params: total=4052126 trainable=4010110'
}

@test "train --summary: layer table rows carry shapes, counts and inputs" {
    run train --arch meso4 --summary
    assert_success
    assert_line --regexp '^block1\.conv +conv +8x256x256 +224  input$'
    assert_line --regexp '^block4\.pool +maxpool +16x8x8 +0  block4\.bn$'
    assert_line --regexp '^head\.flatten +flatten +1024 +0  block4\.pool$'
    assert_line --regexp '^head\.logits +dense +1 +17  head\.dropout2$'
    [ "${lines[-1]}" = "params: total=28073 trainable=27977" ]
    run train --arch xception --summary
    assert_line --regexp '^block14\.sepconv2_act +relu +2048x8x8 +0  block14\.sepconv2_bn$'
    assert_line --regexp '^block13\.add +add +1024x8x8 +0  block13\.pool,block13\.residual_bn$'
}

@test "train --summary: the input size changes the shapes, not GAP models' counts" {
    run train --arch meso4 --size 128 --summary
    assert_success
    assert_line --regexp '^head\.flatten +flatten +256 '
    run train --arch xception --size 128 --summary
    assert_line 'params: total=20865578 trainable=20811050'
}

@test "train: --help, bad flags and sizes" {
    run train --help
    assert_success
    assert_output --partial 'usage: train'
    run --separate-stderr train --arch meso4 --summary --frobnicate
    assert_failure
    [ "$stderr" = "train: unknown argument '--frobnicate' (see --help)" ]
    run --separate-stderr train --arch meso5 --summary
    assert_failure
    [[ "$stderr" == "train: --arch: unknown architecture 'meso5'"* ]]
    run --separate-stderr train --arch shallownet --size 16 --summary
    assert_failure
    [[ "$stderr" == "train: --size 16: shallownet at 16x16: node block3.conv1: input too small"* ]]
    run --separate-stderr train --arch meso4 --size abc --summary
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr train --summary
    assert_failure
    [ "$stderr" = "train: --arch is required (see --help)" ]
    [ -z "$output" ]
}
