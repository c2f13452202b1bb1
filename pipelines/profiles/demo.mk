# Profile "demo": the study's protocol (three stages, both training sets, every test set,
# RQ3 and RQ4) on synth data, scaled for a 2-core CPU.
SIZE          := 32
TRAIN_VIDEOS  := 40
VAL_VIDEOS    := 10
TEST_VIDEOS   := 20
AUG_VIDEOS    := 20
FRAMES        := 5
EPOCHS1       := 10
EPOCHS23      := 5
BATCH1        := 32
BATCH23       := 32
STEPS         := 6
ARCHS         := meso4 mesoinception4 shallownet xception efficientnet-b0
CAM_FAKES     := 10
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 4
ACE_BATCH     := 16
ACE_TOP       := 64,128,256,512
THREADS       := 1
