# make_dataset_trees DIR: miniature dataset trees in the real layouts, made of synth MP4s, for the
# suites that read datasets as distributed (70-manifests, 81-paper): DIR/ff (FaceForensics++ with
# official pair lists, DFD-free), DIR/cdf (Celeb-DF v2, also used as v1), DIR/dfd (DFD), and
# DIR/v (the synth videos they copy). Every real video is a copy of one synth real video, every
# fake of one synth fake.
make_dataset_trees() (
    local d="$1" m p id s
    cd "$d" || return 1
    synth --role f2f --video v --videos 2 --frames 4 --size 128 >/dev/null
    local real="$d/v/real/000.mp4" fake="$d/v/fake/000_003.mp4"
    # FF++: ids 000..007, pairs train [000,001] [003,002], val [004,005], test [006,007]
    mkdir -p ff/original_sequences/youtube/c23/videos ff/splits
    for id in 000 001 002 003 004 005 006 007; do cp "$real" "ff/original_sequences/youtube/c23/videos/$id.mp4"; done
    for m in Deepfakes Face2Face FaceSwap NeuralTextures; do
        mkdir -p "ff/manipulated_sequences/$m/c23/videos"
        for p in 000_001 001_000 002_003 003_002 004_005 005_004 006_007 007_006; do
            cp "$fake" "ff/manipulated_sequences/$m/c23/videos/$p.mp4"
        done
    done
    printf '[["000", "001"], ["003", "002"]]\n' > ff/splits/train.json
    printf '[\n  [\n    "004",\n    "005"\n  ]\n]\n' > ff/splits/val.json
    printf '[["006","007"]]' > ff/splits/test.json
    # Celeb-DF v2: Celeb-real and YouTube-real directly, Celeb-synthesis with a videos/ subfolder
    mkdir -p cdf/Celeb-real cdf/YouTube-real cdf/Celeb-synthesis/videos
    for s in id0_0000 id0_0001 id4_0000 id1_0000; do cp "$real" "cdf/Celeb-real/$s.mp4"; done
    for s in 00000 00004 00170; do cp "$real" "cdf/YouTube-real/$s.mp4"; done
    for s in id0_id1_0000 id0_id4_0000 id4_id9_0000 id1_id0_0001 id1_id2_0000; do
        cp "$fake" "cdf/Celeb-synthesis/videos/$s.mp4"
    done
    printf '1 YouTube-real/00170.mp4\r\n1 Celeb-real/id1_0000.mp4\r\n0 Celeb-synthesis/id1_id2_0000.mp4\r\n' \
        > cdf/List_of_testing_videos.txt
    # DFD: actors 01 (train), 03 and 08 (val), 04 and 09 (test)
    mkdir -p dfd/original_sequences/actors/c23/videos dfd/manipulated_sequences/DeepFakeDetection/c23/videos
    for s in 01__kitchen 03__walk 04__hug 08__talk; do cp "$real" "dfd/original_sequences/actors/c23/videos/$s.mp4"; done
    for s in 01_02__kitchen__ABCD1234 03_08__walk__XYZ 04_09__hug__Q1 08_04__talk__Z; do
        cp "$fake" "dfd/manipulated_sequences/DeepFakeDetection/c23/videos/$s.mp4"
    done
)
