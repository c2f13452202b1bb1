# Profile "quick": a smoke test of the whole study in a few minutes on 2 cores.
# Only two of the five architectures (ARCHS) so that it stays under 5 minutes.
SIZE          := 32
TRAIN_VIDEOS  := 16
VAL_VIDEOS    := 6
TEST_VIDEOS   := 6
AUG_VIDEOS    := 8
FRAMES        := 4
EPOCHS1       := 4
EPOCHS23      := 2
BATCH1        := 16
BATCH23       := 16
STEPS         := 4
ARCHS         := meso4 shallownet
CAM_FAKES     := 4
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 2
ACE_BATCH     := 8
ACE_TOP       := 64,128,256,512
THREADS       := 1
