# Profile "quick": a smoke test of the whole study in a few minutes on 2 cores: two of the five
# architectures (ARCHS), 64 px (at 32 px synth's forgery traces are too small to learn), few epochs.
SIZE          := 64
TRAIN_VIDEOS  := 40
VAL_VIDEOS    := 10
TEST_VIDEOS   := 10
AUG_VIDEOS    := 20
FRAMES        := 8
EPOCHS1       := 10
EPOCHS23      := 4
BATCH1        := 16
BATCH23       := 16
STEPS         := 8
ARCHS         := meso4 shallownet
CAM_FAKES     := 4
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 2
ACE_BATCH     := 8
ACE_TOP       := 64,128,256,512
THREADS       := 1
