# Profile "paper": the published protocol on the real datasets (paper section 3.3, the study's
# scripts: /work/shared/study/paper-repo-facts.md). Needs DATA=DIR holding the datasets as
# distributed:
#   DIR/FaceForensics++  original_sequences/{youtube,actors}/c23/videos, manipulated_sequences/
#                        {Face2Face,FaceSwap,NeuralTextures,Deepfakes,DeepFakeDetection}/c23/videos,
#                        splits/{train,val,test}.json (FF++'s official pair lists)
#   DIR/Celeb-DF-v2      Celeb-real, YouTube-real, Celeb-synthesis, List_of_testing_videos.txt
#   DIR/Celeb-DF         the same for Celeb-DF v1 (CELEB-M)
# (or give FFPP=, CELEB_V2=, CELEB_V1=, DFD_ROOT= one by one; DFD ships inside FaceForensics++).
# Each set: sample-manifest.sh draws enough videos, half real; extract-set.sh takes FRAMES frames
# per video and crops the face at SIZE x SIZE; pack keeps a balanced shuffled sample of the
# wanted size. 16,000 training images, 2,000 per test set, FSNT = 2,000 images (1,000 FS and
# 1,000 NT, half of each real: the paper's "1000 deepfake images from FS and NT"), stages 2/3
# alternate 62 batches of 64 of the training set and of FSNT per epoch (about 2,000 + 2,000
# images, the study's total_train = 4000). The validation sizes are not in the paper: 2,000.
# FF++ holds 720 real training videos, so its 16,000-image set tops out at 7,200 real frames
# (pack --balance then keeps 14,400). Optimisers and losses: train's defaults are the study's
# (Adam; 1e-3 for MesoNet/MesoInception, 5e-5 for the others; train --help).
DATA_SOURCE   := real
FFPP          ?= $(DATA)/FaceForensics++
CELEB_V2      ?= $(DATA)/Celeb-DF-v2
CELEB_V1      ?= $(DATA)/Celeb-DF
DFD_ROOT      ?= $(FFPP)
SIZE          := 256
FRAMES        := 10
MIN_FACE      :=
# crop's --min-neighbors (empty: crop's default, OpenCV's 3): Haar's false positives crop non-faces
# on cluttered backgrounds (25 of 60 frames of one real photo video); a higher value keeps fewer
MIN_NEIGHBORS :=
TRAIN_IMAGES  := 16000
VAL_IMAGES    := 2000
TEST_IMAGES   := 2000
AUG_IMAGES_train := 2000
AUG_IMAGES_val   := 2000
EPOCHS1       := 100
EPOCHS23      := 50
BATCH1        := 32
BATCH23       := 64
STEPS         := 62
ARCHS         := meso4 mesoinception4 shallownet xception efficientnet-b0
CAM_FAKES     := 50
SHEET_FAKES   := 2
SHEET_TILE    := 128
ACE_ARCH      := shallownet
ACE_LAYER     :=
ACE_BATCHES   := 30
ACE_BATCH     := 64
ACE_TOP       := 64,128,256,512
THREADS       := $(shell getconf _NPROCESSORS_ONLN)
