# Profile "demo": the study's protocol (three stages, both training sets, all five architectures,
# so all 30 detectors, every test set, RQ3 and RQ4) on synth data, sized so that every detector
# learns its own training set (accuracy >= 85% and AUC >= 0.95 on its own test set) and the whole
# demo fits 20 minutes of wall time on an idle 2-core machine (bench/demo.sh measures both).
#
# Why each setting:
# - SIZE 64, 80 training videos x 8 frames (640 images per set), 20 validation and test videos
#   (160 images): the smallest sets on which the test accuracy still resolves 1% steps and
#   synth's forgeries stay learnable; 2 jobs at a time (make -j2), one thread each (THREADS 1),
#   because at 64 px one thread per network keeps a core busier than two threads sharing one.
# - XceptionNet costs about six times the other four together per image (0.74 GFLOP forward at
#   64 px), so it trains fewer epochs (EPOCHS1_xception, EPOCHS23_xception); it learns fast at
#   64 px (95% validation accuracy after its first epoch).
# - Stages 2/3 validate on the training set's validation images and on FS+NT's: AUG_VAL_VIDEOS
#   (10 videos of each, 160 images) instead of AUG_VIDEOS' 40 keeps that validation the size of
#   the others; it is evaluated every epoch, and was the larger part of a stage-2/3 epoch.
# - BN_RECALIBRATE 8 (a deviation from the study that report.md lists): before each validation
#   and save, every batchnorm's statistics are recomputed exactly over 8 training batches (128
#   images) with dropout off, as evaluation feeds them ("precise BN", train --bn-recalibrate).
#   At the demo's few hundred steps Keras's momentum-0.99 averages would still sit near their
#   initial values (0.99^400 = 0.018 of the initial variance left against batch variances of
#   1e-4 and below in XceptionNet), so evaluation would normalise with the wrong scale. 128
#   images give each channel thousands of values; the whole set would cost five times more.
# - LR1_shallownet, LR1_efficientnet-b0 5e-4 (a deviation report.md lists): the study's 5e-5 was
#   set for 100 epochs of 500 steps; in the demo's 400 steps ShallowNet stayed at 54% training
#   accuracy after 200 steps at 5e-5 and reached 93% after 120 at 5e-4.
BN_RECALIBRATE := 8
SIZE          := 64
TRAIN_VIDEOS  := 80
VAL_VIDEOS    := 20
TEST_VIDEOS   := 20
AUG_VIDEOS    := 40
AUG_VAL_VIDEOS := 10
FRAMES        := 8
EPOCHS1       := 10
EPOCHS23      := 6
EPOCHS1_xception := 3
EPOCHS23_xception := 2
LR1_shallownet := 5e-4
LR1_efficientnet-b0 := 5e-4
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
