# Profile "demo": the study's protocol (three stages, both training sets, every test set, RQ3 and
# RQ4) on synth data, scaled to finish in about 30 minutes on 2 CPU cores.
# XceptionNet trains fewer epochs than the others (EPOCHS1_xception, EPOCHS23_xception): at 64 px
# it trains at about 21 images/s on one core, some 32 s per epoch of this profile's CELEB set
# (measured 2026-11-26), so the common 20 + 8 epochs would add about 72 x 32 s of training, 19
# minutes of 2 cores, to a study that takes about 10 minutes without it. Its demo detectors are
# undertrained beside the others; the report's settings list the epochs.
SIZE          := 64
TRAIN_VIDEOS  := 80
VAL_VIDEOS    := 20
TEST_VIDEOS   := 20
AUG_VIDEOS    := 40
FRAMES        := 8
EPOCHS1       := 20
EPOCHS23      := 8
EPOCHS1_xception  := 10
EPOCHS23_xception := 4
BATCH1        := 16
BATCH23       := 16
STEPS         := 16
ARCHS         := meso4 mesoinception4 shallownet xception efficientnet-b0
CAM_FAKES     := 8
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 2
ACE_BATCH     := 16
ACE_TOP       := 64,128,256,512
THREADS       := 1
