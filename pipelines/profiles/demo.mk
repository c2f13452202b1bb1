# Profile "demo": the study's protocol (three stages, both training sets, every test set, RQ3 and
# RQ4) on synth data, scaled to finish in about 30 minutes on 2 CPU cores.
# XceptionNet is left out: at 64 px it trains at about 21 images/s on one core (one epoch of
# this profile's CELEB set, 32 s, measured 2026-11-26), so its six models would add about
# 2 x 20 + 4 x 8 epochs = 72 x 32 s, some 19 minutes of 2 cores, to a demo that takes about 10
# minutes without it: past the 30-minute budget with predictions and heatmaps. Add xception to
# ARCHS (make study PROFILE=demo ARCHS='...') on a bigger machine.
SIZE          := 64
TRAIN_VIDEOS  := 80
VAL_VIDEOS    := 20
TEST_VIDEOS   := 20
AUG_VIDEOS    := 40
FRAMES        := 8
EPOCHS1       := 20
EPOCHS23      := 8
BATCH1        := 16
BATCH23       := 16
STEPS         := 16
ARCHS         := meso4 mesoinception4 shallownet efficientnet-b0
CAM_FAKES     := 8
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 2
ACE_BATCH     := 16
ACE_TOP       := 64,128,256,512
THREADS       := 1
