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

@test "train --list-archs: one TSV line per architecture, the names --help and errors list" {
    run --separate-stderr train --list-archs
    assert_success
    [ -z "$stderr" ]
    [ "${#lines[@]}" -eq 6 ]
    assert_line --index 0 "$(printf 'arch\tpaper_name\toutputs\tloss\tlr\tcam_layer\tace_layer\thead')"
    assert_line --index 1 "$(printf 'meso4\tMesoNet\t1\tmse\t0.001\tblock4.relu\t-\thead.dense1,head.logits')"
    assert_line --index 3 "$(printf 'shallownet\tShallowNet\t1\tbce\t5e-05\tblock3.relu2\thead.relu\thead.dense1,head.bn,head.logits')"
    assert_line --index 5 "$(printf 'efficientnet-b0\tEfficientNet\t2\tbce_softmax2\t5e-05\ttop.conv\t-\ttop.conv,top.bn,head.logits')"
    archs=$(printf '%s\n' "${lines[@]:1}" | cut -f1 | paste -sd' ')
    [ "$archs" = "meso4 mesoinception4 shallownet xception efficientnet-b0" ]
    # every listed architecture builds, and --help and the error name the same ones
    for a in $archs; do train --arch "$a" --size 64 --summary > /dev/null; done
    run train --help
    assert_line '  --arch NAME     meso4, mesoinception4, shallownet, xception or efficientnet-b0'
    run --separate-stderr train --arch meso5 --summary
    [ "$stderr" = "train: --arch: unknown architecture 'meso5' (meso4, mesoinception4, shallownet, xception, efficientnet-b0)" ]
}
