# The study as a make graph: data -> 30 (or ARCHS x 6) detectors
# -> score TSVs -> Tables 4-7, Grad-CAM + SSIM (RQ3), neuron analysis (RQ4), report.md.
#
#   make -f pipelines/study.mk PROFILE=quick|demo|paper|test [RUNS=runs] [DATA=dir] [JOBS=N] [HOSTS=file]
#   (or, from the top level: make study PROFILE=... / make demo)
#
# Every output is a file written atomically (the tools' -o, or a temp file renamed), so make's
# timestamps give incremental reruns and an interrupted run resumes where it stopped;
# an interrupted training resumes from its STEM.part.last.ckpt (train --resume).
# Profile variables (ARCHS, SIZE, EPOCHS1...) can be overridden on the command line; ARCHS='meso4
# shallownet' makes only those architectures' detectors, each with the profile's settings for it
# (ACE_ARCH must be one of them; bench/synth-cross-role.sh builds its detectors this way).
# Data and models depend on the profile file and on the tools that make them, so editing the
# profile or rebuilding a tool reruns what it affects.
# Independent trainings, predictions and heatmaps run concurrently: with make -jN, or, when
# JOBS=N or HOSTS=FILE is given, through GNU parallel in waves (pipelines/fanout.sh; HOSTS is
# parallel's --sshloginfile, the machines sharing the run directory at the same path, or slurm:
# the nodes of the Slurm allocation). GPUS=0,1,... (or all) gives each concurrent job of a machine
# its own GPU (pipelines/gpu-job.sh), GPU_SLOTS=K lets K jobs share each; FANOUT_DRY=1 prints the fan-out's command and hosts only.

PROFILE ?= quick
ROOT    := $(patsubst %/,%,$(dir $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))))
PROFILE_DIR ?= $(ROOT)/pipelines/profiles
PROFILE_FILE := $(abspath $(PROFILE_DIR)/$(PROFILE).mk)
ifeq ($(wildcard $(PROFILE_FILE)),)
$(error unknown PROFILE '$(PROFILE)': no $(PROFILE_FILE))
endif
DATA_SOURCE := synth
include $(PROFILE_FILE)

RUNS ?= $(ROOT)/runs
R    := $(abspath $(RUNS)/$(PROFILE))
BIN  ?= $(ROOT)/bin
override BIN := $(abspath $(BIN))
SEED ?= 1
# where train, predict, cam and ace compute: auto (a usable GPU, else the cpu), cpu or cuda;
# empty: the tools' default ($DFS_DEVICE in the environment, else auto)
DEVICE ?=
DEVICE_FLAG = $(if $(DEVICE),--device $(DEVICE))
export OMP_WAIT_POLICY := passive
export OMP_NUM_THREADS := $(THREADS)

.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDEXPANSION:
.PHONY: study

# ---- the study's protocol: pipelines/study.conf -------------------------------------------------
# (score has the same file built in): the architectures' paper names (Table 4) and Grad-CAM
# classes, the detector roles (NAME<id>: training set, stage) and the test sets
STUDY_CONF ?= $(ROOT)/pipelines/study.conf
comma     := ,
# conf_rows KIND: the config's KIND lines, each as one word of its fields joined by '|'
conf_rows  = $(shell awk -F'\t' -v k='$(1)' '$$1 == k { s = $$2; for (i = 3; i <= NF; i++) s = s "|" $$i; print s }' $(STUDY_CONF))
conf_field = $(word $(2),$(subst |, ,$(1)))
$(foreach r,$(call conf_rows,architecture),$(eval name_$(call conf_field,$(r),1) := $(call conf_field,$(r),2)) \
  $(eval cam_class_$(call conf_field,$(r),1) := $(call conf_field,$(r),3)))
ROLES     := $(foreach r,$(call conf_rows,role),$(call conf_field,$(r),1))
$(foreach r,$(call conf_rows,role),$(eval role_train_$(call conf_field,$(r),1) := $(call conf_field,$(r),2)) \
  $(eval role_stage_$(call conf_field,$(r),1) := $(call conf_field,$(r),3)))
# a transfer or merge role starts from the original role of its training set
$(foreach r,$(ROLES),$(eval role_from_$(r) := $(firstword $(foreach o,$(ROLES),$(if $(filter original,$(role_stage_$(o))),$(if $(filter $(role_train_$(r)),$(role_train_$(o))),$(o)))))))
$(foreach r,$(ROLES),$(if $(filter original,$(role_stage_$(r))),,$(if $(role_from_$(r)),,$(error $(STUDY_CONF): role $(r) ($(role_stage_$(r)) on $(role_train_$(r))) has no original role of $(role_train_$(r)) to start from))))
TESTSETS  := $(subst $(comma), ,$(call conf_rows,testsets))
$(if $(ROLES),,$(error $(STUDY_CONF): no role line))
$(if $(TESTSETS),,$(error $(STUDY_CONF): no testsets line))
# an architecture the config does not name keeps train's name (ARCHS='... mynet': mynet1..6)
$(foreach a,$(ARCHS),$(if $(name_$(a)),,$(eval name_$(a) := $(a))))
NAMES     := $(foreach a,$(ARCHS),$(name_$(a)))
DETECTORS := $(foreach n,$(NAMES),$(addprefix $(n),$(ROLES)))
lc         = $(shell echo '$(1)' | tr A-Z a-z)

# timings: one line per target (stage, target, start, end, seconds), appended as it finishes.
# The first line marks the target for pipelines/fanout.sh, which reads `make -n` output.
define timed
@: dfs-build $@
@mkdir -p $(dir $@) $(R)
@s=$$(date +%s.%N); $(2) && e=$$(date +%s.%N) && awk -v s=$$s -v e=$$e -v st=$(1) -v t='$(patsubst $(R)/%,%,$@)' 'BEGIN { printf "%s\t%s\t%.3f\t%.3f\t%.2f\n", st, t, s, e, e - s }' >> $(R)/timings.tsv$(if $(filter 1,$(PROGRESS)), && $(PROGRESS_SH) done $(R) '$(patsubst $(R)/%,%,$@)' $$s $$e)
endef
# Progress (make study): a line on stderr per finished target, "study: [done/total] TARGET
# SECONDS, about T left" (pipelines/progress.sh); a training's own progress bar shows when stderr
# is a terminal. When the goal is study (and make neither only prints nor asks, -n/-q), the
# out-of-date targets are counted first with a dry run (PROGRESS=0: no count within it), and the
# recipes, here or in the fan-out's makes, report with PROGRESS=1.
PROGRESS_SH := $(ROOT)/pipelines/progress.sh
PROGRESS ?=
ifeq ($(PROGRESS),)
ifneq ($(filter study,$(or $(MAKECMDGOALS),study)),)
MAKE_LETTERS := $(filter-out -%,$(firstword $(MAKEFLAGS)))
ifeq ($(findstring n,$(MAKE_LETTERS))$(findstring q,$(MAKE_LETTERS))$(FANOUT_DRY),)
PROGRESS_N := $(shell mkdir -p $(R) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -n $(if $(findstring B,$(MAKE_LETTERS)),-B) --no-print-directory -f $(ROOT)/pipelines/study.mk $(MAKEOVERRIDES) FANOUT=0 PROGRESS=0 study | $(PROGRESS_SH) init $(R))
$(shell echo 'study: $(if $(filter 0,$(PROGRESS_N)),nothing to make,$(PROGRESS_N) targets to make) in $(R)' >&2)
override PROGRESS := 1
endif
endif
endif

# Every file is named here, so none is intermediate: a deleted one is rebuilt (with what reads
# it) and none is removed after the run.
ifneq ($(strip $(JOBS)$(HOSTS)$(GPUS)),)
FANOUT ?= 1
endif
ifeq ($(FANOUT),1)
# Waves of independent targets through GNU parallel, then the rest (and a check that nothing is
# left) by make itself. Each parallel job is a make of one target whose prerequisites earlier
# waves made, so make's graph still decides what is out of date.
study:
	@env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ROOT='$(ROOT)' JOBS='$(JOBS)' HOSTS='$(HOSTS)' GPUS='$(GPUS)' GPU_SLOTS='$(GPU_SLOTS)' FANOUT_DRY='$(FANOUT_DRY)' \
	  MAKE_ARGS='-f $(ROOT)/pipelines/study.mk FANOUT=0 PROGRESS=$(PROGRESS) $(MAKEOVERRIDES)' \
	  $(ROOT)/pipelines/fanout.sh wave0 wave1 wave2 wave3 wave4 wave5 wave6 wave7
	$(if $(FANOUT_DRY),,@$(MAKE) --no-print-directory -f $(ROOT)/pipelines/study.mk FANOUT=0 PROGRESS=$(PROGRESS) PARALLELISM='$(FANOUT_NOTE)' study)
FANOUT_NOTE = GNU parallel$(if $(JOBS), -j $(JOBS))$(if $(HOSTS), --sshloginfile $(HOSTS))$(if $(GPUS),$(if $(filter-out 1,$(or $(GPU_SLOTS),1)), $(GPU_SLOTS) jobs per GPU of $(GPUS), one GPU per job of $(GPUS))) in waves, then make
else
study: $(R)/report.md $$(ALL_FILES)
endif

# ---- data -------------------------------------------------------------------------------------
# data/{train,val}/{CELEB,F2F}.dft, data/aug/{train,val}-{fs,nt}.dft (FaceSwap and NeuralTextures
# for stages 2/3, packed into data/{train,val}/FSNT.dft) and data/test/<DATASET>.dft
DATA_TRAIN := $(foreach s,train val,$(R)/data/$(s)/CELEB.dft $(R)/data/$(s)/F2F.dft)
DATA_AUG   := $(foreach s,train val,$(R)/data/aug/$(s)-fs.dft $(R)/data/aug/$(s)-nt.dft)
DATA_TEST  := $(foreach t,$(TESTSETS),$(R)/data/test/$(t).dft)
DATA_FSNT  := $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft

ifeq ($(DATA_SOURCE),synth)
# AUG_VAL_VIDEOS: videos of each of FS and NT in the validation set of stages 2/3 (default AUG_VIDEOS)
AUG_VAL_VIDEOS ?= $(AUG_VIDEOS)
SYNTH = $(BIN)/synth --role $(1) --split $(2) --videos $(3) --frames $(FRAMES) --size $(SIZE) --seed $(SEED) \
  --threads $(THREADS) > $@.tmp && mv $@.tmp $@
$(R)/data/train/%.dft: $(PROFILE_FILE) $(BIN)/synth
	$(call timed,data,$(call SYNTH,$(call lc,$*),train,$(TRAIN_VIDEOS)))
$(R)/data/val/%.dft: $(PROFILE_FILE) $(BIN)/synth
	$(call timed,data,$(call SYNTH,$(call lc,$*),val,$(VAL_VIDEOS)))
$(R)/data/test/%.dft: $(PROFILE_FILE) $(BIN)/synth
	$(call timed,data,$(call SYNTH,$(call lc,$*),test,$(TEST_VIDEOS)))
$(R)/data/aug/%.dft: $(PROFILE_FILE) $(BIN)/synth
	$(call timed,data,$(call SYNTH,$(call lc,$(word 2,$(subst -, ,$*))),$(word 1,$(subst -, ,$*)),$(if $(filter val,$(word 1,$(subst -, ,$*))),$(AUG_VAL_VIDEOS),$(AUG_VIDEOS))))
else ifeq ($(DATA_SOURCE),real)
# Real data (the paper profile): manifest.sh lists a split's videos, sample-manifest.sh draws
# enough of them (half real), extract-set.sh decodes FRAMES frames each and crops the faces, and
# pack keeps a balanced, shuffled sample of the wanted number of images.
# make splits words at spaces: a path with one cannot be a target or a prerequisite
$(foreach v,DATA FFPP CELEB_V2 CELEB_V1 DFD_ROOT RUNS,$(if $(word 2,$($(v))),$(error $(v)='$($(v))' holds a space, which make cannot take in a path: link it from a path without spaces (ln -s '$($(v))' /data/dfs) and give that)))
$(foreach v,FFPP CELEB_V2 CELEB_V1 DFD_ROOT,$(if $(wildcard $($(v))/.),,$(error PROFILE=$(PROFILE) reads real data: $(v)=$($(v)) is not a directory (give DATA=DIR holding FaceForensics++, Celeb-DF-v2 and Celeb-DF, or $(v)=; see $(PROFILE_FILE)))))
MANIFEST_SH := $(ROOT)/pipelines/manifest.sh
SAMPLE_SH   := $(ROOT)/pipelines/sample-manifest.sh
EXTRACT_SH  := $(ROOT)/pipelines/extract-set.sh
LEAK_SH     := $(ROOT)/pipelines/leak-check.sh
REAL_TOOLS  := $(MANIFEST_SH) $(SAMPLE_SH) $(EXTRACT_SH) $(BIN)/frame-extract $(BIN)/crop $(BIN)/pack
# manifest.sh arguments of each set (split, then dataset); test sets: DFD whole (the study tests
# on all of it), FS-I/NT-I from F2F's training identities (manifest.sh --help)
src_CELEB   = celeb-v2 $(CELEB_V2)
src_CELEB-M = celeb-v1 $(CELEB_V1)
src_F2F     = ff++ $(FFPP) --method F2F
src_FS      = ff++ $(FFPP) --method FS
src_NT      = ff++ $(FFPP) --method NT
src_DF      = ff++ $(FFPP) --method DF
src_fs      = $(src_FS)
src_nt      = $(src_NT)
src_DFD     = dfd $(DFD_ROOT)
src_FS-I    = fs-i $(FFPP)
src_NT-I    = nt-i $(FFPP)
split_arg   = $(if $(filter test/DFD test/FS-I test/NT-I,$(1)/$(2)),,--split $(1))
# images per set: train/val/test; aug = half of FSNT each
images_train = $(TRAIN_IMAGES)
images_val   = $(VAL_IMAGES)
images_test  = $(TEST_IMAGES)
# The FS (NT) videos of stages 2/3 come from the pool FS-I (NT-I) is drawn from: keep them apart,
# with the reverse pair B_A of each FS-I (NT-I) fake A_B (the same two persons' videos).
exclude_fs  = --exclude $(R)/data/manifests/test-FS-I.tsv --exclude-source $(R)/data/manifests/test-FS-I.tsv
exclude_nt  = --exclude $(R)/data/manifests/test-NT-I.tsv --exclude-source $(R)/data/manifests/test-NT-I.tsv
# data/manifests/SPLIT-SET.tsv -> data/SPLIT/SET.dft (aug: data/manifests/aug-SPLIT-set.tsv)
# (a function: a '%' written in a pattern rule's prerequisites would be replaced by the stem)
aug_needs = $(if $(filter aug-train-fs aug-val-fs,$(1)),$(R)/data/manifests/test-FS-I.tsv)$(if $(filter aug-train-nt aug-val-nt,$(1)),$(R)/data/manifests/test-NT-I.tsv)
$(R)/data/manifests/%.tsv: $(PROFILE_FILE) $(MANIFEST_SH) $(SAMPLE_SH) $$(call aug_needs,$$*)
	$(call timed,data,$(call REAL_MANIFEST,$(subst -, ,$(patsubst aug-%,%,$*)),$(filter aug-%,$*)))
# REAL_MANIFEST split set [aug]: split is the first word, set the rest joined again by '-'
# (--stats: DIR/NAME.stats, what the sample left out and took, for the report)
# manifest.sh's warnings go to stderr and, kept in $@.warnings, into report.md
REAL_MANIFEST = $(prep_$(subst $(space),-,$(1))) \
  ( $(MANIFEST_SH) $(src_$(subst $(space),-,$(wordlist 2,9,$(1)))) $(call split_arg,$(firstword $(1)),$(subst $(space),-,$(wordlist 2,9,$(1)))) > $@.all 2> $@.err; \
  st=$$?; cat $@.err >&2; grep '^manifest.sh: WARNING:' $@.err > $@.warnings || :; rm -f $@.err; exit $$st ) && \
  $(count_$(subst $(space),-,$(1))) \
  $(SAMPLE_SH) $@.all --frames $(call frames_of,$(1),$(2)) --seed $(SEED) --stats $(@:.tsv=.stats) \
    $(if $(2),,$(if $(filter train,$(firstword $(1))),--real-frames $(FRAMES_REAL_TRAIN))) \
    --images $(if $(2),$$(($(AUG_IMAGES_$(firstword $(1))) / 2)),$(call images_of,$(1))) \
    $(if $(2),$(exclude_$(lastword $(1))))$(excl_$(subst $(space),-,$(1))) > $@.tmp && rm -f $@.all $@.v2 && mv $@.tmp $@
# CELEB-M (Celeb-DF v1) leaves out the videos made from a source video of Celeb-DF v2's training or
# validation videos (v1 and v2 share sources and names; sample-manifest.sh --exclude-source), with
# CELEB_M_EXCLUDE=identity also those showing one of their persons. The v2 list is the whole of
# both splits, not the sample the CELEB sets took. DIR/test-CELEB-M.identity.stats counts what an
# exclusion by person would leave out.
CELEB_M_EXCLUDE ?= source
$(if $(filter source identity,$(CELEB_M_EXCLUDE)),,$(error CELEB_M_EXCLUDE '$(CELEB_M_EXCLUDE)' is neither source nor identity))
prep_test-CELEB-M = { $(MANIFEST_SH) $(src_CELEB) --split train && $(MANIFEST_SH) $(src_CELEB) --split val | tail -n +2; } > $@.v2 &&
count_test-CELEB-M = $(SAMPLE_SH) $@.all --frames $(FRAMES) --images $(TEST_IMAGES) --exclude-source $@.v2 --exclude-identity $@.v2 \
    --stats $(@:.tsv=.identity.stats) > /dev/null 2>&1 &&
excl_test-CELEB-M = $(space)--exclude-source $@.v2 $(if $(filter identity,$(CELEB_M_EXCLUDE)),--exclude-identity $@.v2)
space := $(subst ,, )
# frames (per fake video) and images of a set from its words and aug flag (test FS I: FS-I and
# NT-I take FRAMES_I frames and TEST_IMAGES_I images; train: FRAMES_FAKE_TRAIN frames)
frames_of = $(if $(2),$(FRAMES),$(if $(filter test,$(firstword $(1))),$(if $(filter I,$(lastword $(1))),$(FRAMES_I),$(FRAMES)),$(if $(filter train,$(firstword $(1))),$(FRAMES_FAKE_TRAIN),$(FRAMES))))
images_of = $(if $(filter test,$(firstword $(1))),$(if $(filter I,$(lastword $(1))),$(TEST_IMAGES_I),$(images_test)),$(images_$(firstword $(1))))
EXTRACT_OPTS = --size $(SIZE) -j $(THREADS) $(if $(MIN_FACE),--min-face $(MIN_FACE)) $(if $(FACE_DETECTOR),--detector $(FACE_DETECTOR)) \
  $(if $(MIN_NEIGHBORS),--min-neighbors $(MIN_NEIGHBORS))
NOT_EMPTY = { test -s $@ || { echo "study: $@: an empty set (no faces, or no real or no fake images kept): stopping" >&2; exit 1; }; }
# FACES: crop's account of the set, DIR/SET.faces.tsv (extract-set.sh --faces; report.md); a
# training set extracted in two parts (real, fake) adds theirs up
FACES = --faces $(@:.dft=.faces.tsv)
FACES_SUM = awk -F'\t' 'FNR == 1 { h = $$0; next } { for (i = 1; i <= NF; i++) t[i] += $$i; n = NF } \
  END { print h; for (i = 1; i <= n; i++) printf "%d%s", t[i], (i < n ? "\t" : "\n") }' $(1) > $(@:.dft=.faces.tsv).tmp && mv $(@:.dft=.faces.tsv).tmp $(@:.dft=.faces.tsv)
EXTRACT = { $(EXTRACT_SH) $< $@.raw.dft -n $(FRAMES) $(EXTRACT_OPTS) $(FACES) \
  || [ $$? -eq 2 ]; } && $(BIN)/pack --shuffle --seed $(SEED) --balance --take $(1) $@.raw.dft -o $@ && rm $@.raw.dft && $(NOT_EMPTY)
# Training sets: FRAMES_REAL_TRAIN frames per real video, FRAMES_FAKE_TRAIN per fake (default
# FRAMES): FF++ has 720 real and 720 F2F training videos, so 16,000 balanced images need 12 frames
# of each; Celeb-DF v2 some 570 real ones after the test list and validation (paper.mk).
FRAMES_REAL_TRAIN ?= $(FRAMES)
FRAMES_FAKE_TRAIN ?= $(FRAMES)
EXTRACT_TRAIN = $(if $(filter $(FRAMES)/$(FRAMES),$(FRAMES_REAL_TRAIN)/$(FRAMES_FAKE_TRAIN)),$(call EXTRACT,$(TRAIN_IMAGES)),\
  for l in real fake; do awk -F'\t' -v l=$$l 'NR == 1 { for (i = 1; i <= NF; i++) if ($$i == "label") c = i; print; next } $$c == l' $< > $@.$$l.tsv || exit 1; done && \
  { $(EXTRACT_SH) $@.real.tsv $@.real.dft -n $(FRAMES_REAL_TRAIN) $(EXTRACT_OPTS) --faces $@.real.faces || [ $$? -eq 2 ]; } && \
  { $(EXTRACT_SH) $@.fake.tsv $@.fake.dft -n $(FRAMES_FAKE_TRAIN) $(EXTRACT_OPTS) --faces $@.fake.faces || [ $$? -eq 2 ]; } && \
  $(call FACES_SUM,$@.real.faces $@.fake.faces) && \
  $(BIN)/pack --shuffle --seed $(SEED) --balance --take $(TRAIN_IMAGES) $@.real.dft $@.fake.dft -o $@ && rm $@.real.* $@.fake.* && $(NOT_EMPTY))
# Every manifest before any extraction: a set with no videos stops the study at once, not at the
# analysis that first reads it after all the training.
ALL_MANIFESTS := $(foreach f,$(DATA_TRAIN) $(DATA_AUG) $(DATA_TEST),$(R)/data/manifests/$(subst /,-,$(patsubst $(R)/data/%.dft,%,$(f))).tsv)
$(DATA_TRAIN) $(DATA_AUG) $(DATA_TEST): | $(ALL_MANIFESTS)
$(R)/data/train/%.dft: $(R)/data/manifests/train-%.tsv $(REAL_TOOLS)
	$(call timed,data,$(EXTRACT_TRAIN))
$(R)/data/val/%.dft: $(R)/data/manifests/val-%.tsv $(REAL_TOOLS)
	$(call timed,data,$(call EXTRACT,$(VAL_IMAGES)))
$(R)/data/test/%.dft: $(R)/data/manifests/test-%.tsv $(REAL_TOOLS)
	$(call timed,data,$(call EXTRACT,$(TEST_IMAGES)))
# FS-I and NT-I: F2F's training identities, so their real videos are F2F's (and stages 2/3's)
# real training videos. They take FRAMES_I evenly spaced frames per video (default 2 x FRAMES, a
# frame grid that shares few frames with the training sets' FRAMES) and drop every frame a
# training or validation set holds (leak-check.sh --list-leaks), so no test image was trained on.
ifeq ($(origin FRAMES_I),undefined)
FRAMES_I := $(shell echo $$((2 * $(FRAMES))))
endif
TEST_IMAGES_I ?= $(TEST_IMAGES)
$(R)/data/test/FS-I.dft $(R)/data/test/NT-I.dft: $(R)/data/test/%.dft: $(R)/data/manifests/test-%.tsv $(DATA_TRAIN) $(DATA_AUG) $(REAL_TOOLS) $(LEAK_SH)
	$(call timed,data,{ $(EXTRACT_SH) $< $@.raw.dft -n $(FRAMES_I) $(EXTRACT_OPTS) $(FACES) \
	  || [ $$? -eq 2 ]; } && $(LEAK_SH) --manifests $(R)/data/manifests $(call leak_sets,train,$(DATA_TRAIN) $(DATA_AUG)) \
	  --test $*=$@.raw.dft --list-leaks $@.drop > /dev/null && \
	  $(BIN)/pack --drop-keys $@.drop --shuffle --seed $(SEED) --balance --take $(TEST_IMAGES_I) $@.raw.dft -o $@ && rm $@.raw.dft $@.drop && $(NOT_EMPTY))
DATA_TEST_LATE := $(R)/data/test/FS-I.dft $(R)/data/test/NT-I.dft
$(R)/data/aug/train-%.dft: $(R)/data/manifests/aug-train-%.tsv $(REAL_TOOLS)
	$(call timed,data,$(call EXTRACT,$$(($(AUG_IMAGES_train) / 2))))
$(R)/data/aug/val-%.dft: $(R)/data/manifests/aug-val-%.tsv $(REAL_TOOLS)
	$(call timed,data,$(call EXTRACT,$$(($(AUG_IMAGES_val) / 2))))
else
$(error DATA_SOURCE '$(DATA_SOURCE)' in $(PROFILE_FILE) is neither synth nor real)
endif
$(R)/data/train/FSNT.dft: $(R)/data/aug/train-fs.dft $(R)/data/aug/train-nt.dft $(BIN)/pack
	$(call timed,data,$(BIN)/pack --shuffle --seed $(SEED) $(filter %.dft,$^) -o $@)
$(R)/data/val/FSNT.dft: $(R)/data/aug/val-fs.dft $(R)/data/aug/val-nt.dft $(BIN)/pack
	$(call timed,data,$(BIN)/pack --shuffle --seed $(SEED) $(filter %.dft,$^) -o $@)

# ---- the leak check ----------------------------------------------------------------------------
# No test image may be a training or validation image (the same frame of the same video file):
# leak-check.sh compares every test set with every training and validation set and fails the
# study when one does, before any training. Its output, data/sets.tsv, is the size of every set.
leak_sets = $(foreach f,$(2),--$(1) $(patsubst $(R)/data/%.dft,%,$(f))=$(f))
SETS_TRAIN := $(foreach s,train val,$(foreach t,CELEB F2F FSNT,$(R)/data/$(s)/$(t).dft))
$(R)/data/sets.tsv: $(SETS_TRAIN) $(DATA_TEST) $(ROOT)/pipelines/leak-check.sh $(BIN)/pack
	$(call timed,data,$(ROOT)/pipelines/leak-check.sh $(if $(filter real,$(DATA_SOURCE)),--manifests $(R)/data/manifests) \
	  $(call leak_sets,train,$(SETS_TRAIN)) $(call leak_sets,test,$(DATA_TEST)) -o $@)

# ---- models -----------------------------------------------------------------------------------
# stage 1 (k = 1, 4): from scratch on CELEB or F2F; stages 2/3 (transfer, merge) start from
# model 1 (4) and alternate batches of the training set and FSNT, as the study's scripts
# EPOCHS1_<arch> / EPOCHS23_<arch> in a profile override the epochs of one architecture
# BN_RECALIBRATE=N (empty: off, as the study): train --bn-recalibrate N, the batchnorm statistics
# recomputed exactly over N training batches (0: all) before each validation and save
BN_RECALIBRATE ?=
BN_FLAG = $(if $(BN_RECALIBRATE),--bn-recalibrate $(BN_RECALIBRATE))
# LR1_<arch> / LR23_<arch> in a profile: train --lr of that architecture in stage 1 / stages 2-3
# (unset: the study's rate, train's default); report.md lists each one set as a difference
LR_SET = $(strip $(foreach a,$(ARCHS),$(if $(LR1_$(a)),LR1_$(a)=$(LR1_$(a))) $(if $(LR23_$(a)),LR23_$(a)=$(LR23_$(a)))))
TRAIN1 = $(BIN)/train --arch $(2) --train $(R)/data/train/$(1).dft --val $(R)/data/val/$(1).dft \
  --epochs $(or $(EPOCHS1_$(2)),$(EPOCHS1)) --batch $(BATCH1) --seed 32 --threads $(THREADS) $(DEVICE_FLAG) $(BN_FLAG) -q$(if $(LR1_$(2)), --lr $(LR1_$(2)))
# FROZEN_BN: how a batchnorm frozen in stage 2 (transfer) normalises a training batch (train
# --frozen-bn, formats/train.md): batch (its own statistics: the study's Keras 2 / TF1) or moving
FROZEN_BN ?= batch
TRAIN23 = $(BIN)/train --from $(3) --mode $(2) --train $(R)/data/train/$(1).dft --mix $(R)/data/train/FSNT.dft \
  --val $(R)/data/val/$(1).dft --val-mix $(R)/data/val/FSNT.dft \
  --epochs $(or $(EPOCHS23_$(4)),$(EPOCHS23)) --batch $(BATCH23) --steps $(STEPS) --seed 32 --threads $(THREADS) $(DEVICE_FLAG) $(BN_FLAG) -q \
  $(if $(filter transfer,$(2)),--frozen-bn $(FROZEN_BN))$(if $(LR23_$(4)), --lr $(LR23_$(4)))
# train writes STEM.part.ckpt (+ .part.last.ckpt, .part.log.tsv), renamed to the target's names
# only when it finished: a killed training never leaves a checkpoint that make takes for done.
# A partial state newer than every prerequisite is that of an interrupted run: it resumes.
PART = $(@:.ckpt=.part)
RESUME = r=--resume; for d in $^; do test $(PART).last.ckpt -nt $$d || r=; done;
# models also depend on the profile (epochs, batch...) and on train
MODEL_DEPS = $(PROFILE_FILE) $(BIN)/train | $(R)/data/sets.tsv
FINISH = && mv $(PART).last.ckpt $(@:.ckpt=.last.ckpt) && mv $(PART).log.tsv $(@:.ckpt=.log.tsv) && mv $(PART).ckpt $@

# model_rule NAME ARCH ROLE: an original role trains from scratch on its set; a transfer or merge
# role starts from the original detector of its set (role_from)
define model_rule
ifeq ($(role_stage_$(3)),original)
$(R)/models/$(1)$(3).ckpt: $(R)/data/train/$(role_train_$(3)).dft $(R)/data/val/$(role_train_$(3)).dft $(MODEL_DEPS)
	$$(call timed,train1,$$(RESUME) $$(call TRAIN1,$(role_train_$(3)),$(2)) -o $$(PART).ckpt $$$$r $$(FINISH))
else
$(R)/models/$(1)$(3).ckpt: $(R)/models/$(1)$(role_from_$(3)).ckpt $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft $(MODEL_DEPS)
	$$(call timed,train23,$$(RESUME) $$(call TRAIN23,$(role_train_$(3)),$(role_stage_$(3)),$$<,$(2)) -o $$(PART).ckpt $$$$r $$(FINISH))
endif
endef
$(foreach a,$(ARCHS),$(foreach r,$(ROLES),$(eval $(call model_rule,$(name_$(a)),$(a),$(r)))))

# ---- scores and tables ------------------------------------------------------------------------
SCORES := $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(R)/scores/$(d)/$(t).tsv))
$(R)/scores/%.tsv: $$(R)/models/$$(*D).ckpt $$(R)/data/test/$$(*F).dft $(BIN)/predict
	$(call timed,predict,$(BIN)/predict -m $< --threads $(THREADS) $(DEVICE_FLAG) -o $@ $(word 2,$^))

# Your own detectors beside the baselines: OWN=DIR, DIR/detectors.tsv holding score's config
# lines for them (detector NAME ARCH TRAIN STAGE FINETUNE, tab-separated; score --print-detectors)
# and DIR/<NAME>/<DATASET>.tsv their score TSVs on this run's test sets (data/test/*.dft). They
# are copied into scores/ and enter Tables 4-7 and the report; a missing set shows as '-'.
ifneq ($(strip $(OWN)),)
OWN_DIR := $(abspath $(OWN))
ifeq ($(wildcard $(OWN_DIR)/detectors.tsv),)
$(error OWN=$(OWN): no $(OWN_DIR)/detectors.tsv (score config lines of your detectors))
endif
OWN_NAMES := $(shell awk -F'\t' '$$1 == "detector" { print $$2 }' $(OWN_DIR)/detectors.tsv)
ifneq ($(filter $(OWN_NAMES),$(DETECTORS)),)
$(error OWN=$(OWN): $(filter $(OWN_NAMES),$(DETECTORS)) would replace a baseline detector of this run: rename it)
endif
OWN_SCORES := $(patsubst $(OWN_DIR)/%,$(R)/scores/%,$(wildcard $(foreach d,$(OWN_NAMES),$(foreach t,$(TESTSETS),$(OWN_DIR)/$(d)/$(t).tsv))))
$(OWN_SCORES): $(R)/scores/%: $(OWN_DIR)/%
	$(call timed,own,cp $< $@.tmp && mv $@.tmp $@)
endif
# score's study config: pipelines/study.conf (score's built-in one), an architecture line for
# each ARCHS entry it does not name (its detectors then take every role, as the baselines'), and
# your detectors' lines
CONF_ARCHS := $(foreach r,$(call conf_rows,architecture),$(call conf_field,$(r),1))
$(R)/tables/config.tsv: $(BIN)/score $(STUDY_CONF) $(if $(OWN_DIR),$(OWN_DIR)/detectors.tsv) $(PROFILE_FILE)
	$(call timed,tables,{ cat $(STUDY_CONF) && \
	  $(foreach a,$(filter-out $(CONF_ARCHS),$(ARCHS)),printf 'architecture\t%s\t%s\tfake\n' $(a) $(name_$(a)) &&) \
	  $(if $(OWN_DIR),awk -F'\t' '$$1 == "detector"' $(OWN_DIR)/detectors.tsv &&) :; } > $@.tmp && \
	  $(BIN)/score --print-detectors --config $@.tmp > /dev/null && mv $@.tmp $@)

TABLES := $(foreach n,4 5 6 7,$(R)/tables/table$(n).tsv $(R)/tables/table$(n).md)
TABLE_DEPS = $(SCORES) $(OWN_SCORES) $(R)/tables/config.tsv $(BIN)/score
SCORE_TABLE = $(BIN)/score --table $(1) --dir $(R)/scores --config $(R)/tables/config.tsv --auc
$(R)/tables/table%.tsv: $$(TABLE_DEPS)
	$(call timed,tables,$(call SCORE_TABLE,$*) -o $@ 2>$@.log)
$(R)/tables/table%.md: $$(TABLE_DEPS)
	$(call timed,tables,$(call SCORE_TABLE,$*) --markdown -o $@ 2>$@.log)
# Tables 6 and 7 keep, as the paper, detectors degrading by more than 30 points on the unseen
# sets; when none does, the report shows them unfiltered from these
$(R)/tables/table%-all.tsv: $$(TABLE_DEPS)
	$(call timed,tables,$(call SCORE_TABLE,$*) --min-degradation -1000 -o $@ 2>$@.log)
$(R)/tables/table%-all.md: $$(TABLE_DEPS)
	$(call timed,tables,$(call SCORE_TABLE,$*) --min-degradation -1000 --markdown -o $@ 2>$@.log)

# ---- RQ3: Grad-CAM of congenetic models on fake test images, SSIM between them ----------------
# a few fake images of each test set: the fakes of a balanced sample of twice as many
$(R)/rq3/fakes/%.dft: $(R)/data/test/%.dft $(BIN)/pack
	$(call timed,rq3,$(BIN)/pack --shuffle --seed $(SEED) --balance --take $$(($(CAM_FAKES) * 2)) --keep fake $< -o $@)
$(R)/rq3/cam/%.dft: $$(R)/models/$$(*D).ckpt $(R)/rq3/fakes/$$(*F).dft $(BIN)/cam
	$(call timed,rq3,$(BIN)/cam -m $< $(DEVICE_FLAG) -o $@ < $(word 2,$^))
CAMS := $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(R)/rq3/cam/$(d)/$(t).dft))
# CAM_COMPAT=study (the paper profile): also the images the study compared (cam --compat study:
# no ReLU, tf-explain's overlay on the face, min-max, the study's gray conversion and JET) of the
# class it explained (cam_class_<arch>, from study.conf's architecture lines: class_index 0,
# P(real) for the sigmoid models, P(fake) for the softmax ones); an architecture the config does
# not name explains P(fake)
$(foreach a,$(ARCHS),$(eval arch_$(name_$(a)) := $(a)))
det_arch = $(firstword $(foreach r,$(ROLES),$(if $(filter %$(r),$(1)),$(arch_$(patsubst %$(r),%,$(1))))))
CAM_COMPAT ?=
$(if $(filter-out study,$(CAM_COMPAT)),$(error CAM_COMPAT '$(CAM_COMPAT)' is neither empty nor study))
CAMS_STUDY := $(if $(CAM_COMPAT),$(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(R)/rq3/cam-study/$(d)/$(t).dft)))
$(R)/rq3/cam-study/%.dft: $$(R)/models/$$(*D).ckpt $(R)/rq3/fakes/$$(*F).dft $(BIN)/cam
	$(call timed,rq3,$(BIN)/cam -m $< --compat study --class $(or $(cam_class_$(call det_arch,$(*D))),fake) $(DEVICE_FLAG) -o $@ < $(word 2,$^))
# group NAME<first>-<last> of an architecture: the roles of one training set (the study's 1-3 on
# CELEB, 4-6 on F2F), whose heatmaps RQ3 compares
uniq = $(if $(1),$(firstword $(1)) $(call uniq,$(filter-out $(firstword $(1)),$(1))))
ROLE_TRAINS := $(call uniq,$(foreach r,$(ROLES),$(role_train_$(r))))
$(foreach t,$(ROLE_TRAINS),$(eval group_ids_$(t) := $(foreach r,$(ROLES),$(if $(filter $(t),$(role_train_$(r))),$(r)))) \
  $(eval group_label_$(t) := $(firstword $(group_ids_$(t)))-$(lastword $(group_ids_$(t)))))
GROUPS := $(foreach n,$(NAMES),$(foreach t,$(ROLE_TRAINS),$(n)$(group_label_$(t))))
group_models = $(group_ids_$(firstword $(foreach t,$(ROLE_TRAINS),$(if $(filter %$(group_label_$(t)),$(1)),$(t)))))
group_name = $(firstword $(foreach t,$(ROLE_TRAINS),$(if $(filter %$(group_label_$(t)),$(1)),$(patsubst %$(group_label_$(t)),%,$(1)))))
SSIM := $(foreach g,$(GROUPS),$(foreach t,$(TESTSETS),$(R)/rq3/ssim/$(g)/$(t).tsv))
SSIM_STUDY := $(if $(CAM_COMPAT),$(foreach g,$(GROUPS),$(foreach t,$(TESTSETS),$(R)/rq3/ssim-study/$(g)/$(t).tsv)))
$(R)/rq3/ssim/%.tsv: $$(foreach k,$$(call group_models,$$(*D)),$$(R)/rq3/cam/$$(call group_name,$$(*D))$$(k)/$$(*F).dft) $(BIN)/ssim
	$(call timed,rq3,$(BIN)/ssim --intersect --hist $(@:.tsv=.hist.tsv) -o $@ $(filter %.dft,$^))
$(R)/rq3/ssim-study/%.tsv: $$(foreach k,$$(call group_models,$$(*D)),$$(R)/rq3/cam-study/$$(call group_name,$$(*D))$$(k)/$$(*F).dft) $(BIN)/ssim
	$(call timed,rq3,$(BIN)/ssim --intersect --hist $(@:.tsv=.hist.tsv) -o $@ $(filter %.dft,$^))
# rq3/ssim-hist.tsv (the maps) and rq3/ssim-study-hist.tsv (the study's images): every histogram
HIST_ALL = { printf 'group\tdataset\tbin\tcount\tpercent\n'; for f in $(1); do \
	  g=$$(basename $$(dirname $$f)); t=$$(basename $$f .tsv); \
	  awk -F'\t' -v g=$$g -v t=$$t 'NR > 1 { print g "\t" t "\t" $$0 }' $${f%.tsv}.hist.tsv; done; } > $@.tmp && mv $@.tmp $@
$(R)/rq3/ssim-hist.tsv: $(SSIM)
	$(call timed,rq3,$(call HIST_ALL,$(SSIM)))
$(R)/rq3/ssim-study-hist.tsv: $(SSIM_STUDY)
	$(call timed,rq3,$(call HIST_ALL,$(SSIM_STUDY)))
# Figure 2: a contact sheet of the heatmaps over the fakes, a row per detector (congenetic
# groups one after the other), a column per test set, SHEET_FAKES images per cell of
# SHEET_TILE px, labels SHEET_FONT x the 5x7 font. report.md shows it in a Markdown column of
# ~900 px and scales wider images down: one fake of 64 px per cell and 14 px labels make the 9
# test sets 800 px wide (with 30 detectors 2,032 px tall), shown unscaled; two fakes per cell
# made it 1,282 px, its 7 px labels shrunk to 5 (tests/56-cam-sheet.bats checks the bound)
SHEET_FAKES ?= 1
SHEET_TILE  ?= 64
SHEET_FONT  ?= 2
$(R)/figures/cams.png: $(CAMS) $(foreach t,$(TESTSETS),$(R)/rq3/fakes/$(t).dft) $(BIN)/cam
	$(call timed,figures,$(BIN)/cam --sheet $@ --per-cell $(SHEET_FAKES) --tile $(SHEET_TILE) --font-scale $(SHEET_FONT) \
	  $(foreach t,$(TESTSETS),--images $(R)/rq3/fakes/$(t).dft) \
	  $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(d),$(t)=$(R)/rq3/cam/$(d)/$(t).dft)))
# the same sheet of the study's images (CAM_COMPAT=study)
$(R)/figures/cams-study.png: $(CAMS_STUDY) $(BIN)/cam
	$(call timed,figures,$(BIN)/cam --sheet $@ --per-cell $(SHEET_FAKES) --tile $(SHEET_TILE) --font-scale $(SHEET_FONT) \
	  $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(d),$(t)=$(R)/rq3/cam-study/$(d)/$(t).dft)))
RQ3_STUDY := $(if $(CAM_COMPAT),$(R)/rq3/ssim-study-hist.tsv $(R)/figures/cams-study.png)

# ---- RQ4: neuron causal effects (ace) of ACE_ARCH's model of the first role (the study's 1) on every test set, overlap
ifeq ($(filter $(ACE_ARCH),$(ARCHS)),)
$(error ACE_ARCH '$(ACE_ARCH)' is not in ARCHS '$(ARCHS)': set ACE_ARCH (and ACE_LAYER, ACE_TOP to fit that layer's size))
endif
ACE_MODEL := $(name_$(ACE_ARCH))$(firstword $(ROLES))
ACE := $(foreach t,$(TESTSETS),$(R)/rq4/ace/$(t).tsv)
$(R)/rq4/ace/%.tsv: $(R)/models/$(ACE_MODEL).ckpt $(R)/data/test/%.dft $(BIN)/ace
	$(call timed,rq4,$(BIN)/ace -m $< $(DEVICE_FLAG) $(if $(ACE_LAYER),--layer $(ACE_LAYER)) --batches $(ACE_BATCHES) --batch $(ACE_BATCH) -o $@ $(word 2,$^) 2>$@.log)
# rq4/overlap5.*: the study's five sets, the main result (Figure 5: CELEB, FS, NT, DF, DFD;
# docs/study-facts.md section 5); rq4/overlap.*: all nine test sets, an extra
ACE5 := $(foreach t,$(filter $(TESTSETS),CELEB FS NT DF DFD),$(R)/rq4/ace/$(t).tsv)
$(R)/rq4/overlap5.tsv: $(ACE5) $(BIN)/ace
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) $(ACE5) > $@.tmp && mv $@.tmp $@)
$(R)/rq4/overlap5.md: $(ACE5) $(BIN)/ace
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) --markdown $(ACE5) > $@.tmp && mv $@.tmp $@)
$(R)/rq4/overlap.tsv: $(ACE) $(BIN)/ace
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) $(ACE) > $@.tmp && mv $@.tmp $@)
$(R)/rq4/overlap.md: $(ACE) $(BIN)/ace
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) --markdown $(ACE) > $@.tmp && mv $@.tmp $@)

MODELS1   := $(foreach a,$(NAMES),$(foreach k,$(ROLES),$(if $(filter original,$(role_stage_$(k))),$(R)/models/$(a)$(k).ckpt)))
MODELS23  := $(foreach a,$(NAMES),$(foreach k,$(ROLES),$(if $(filter original,$(role_stage_$(k))),,$(R)/models/$(a)$(k).ckpt)))
FAKES     := $(foreach t,$(TESTSETS),$(R)/rq3/fakes/$(t).dft)
ALL_FILES = $(R)/data/sets.tsv $(MODELS1) $(MODELS23) $(SCORES) $(OWN_SCORES) $(SSIM) $(CAMS) $(FAKES) $(DATA_TEST) $(ACE) \
  $(R)/figures/cams.png $(CAMS_STUDY) $(SSIM_STUDY) $(RQ3_STUDY)

# The waves of the fan-out (pipelines/fanout.sh): a wave's targets need only earlier waves'.
# Real data: test manifests first (the aug manifests exclude FS-I/NT-I's videos), then the rest.
ifeq ($(DATA_SOURCE),real)
MANIFESTS_TEST := $(foreach t,$(TESTSETS),$(R)/data/manifests/test-$(t).tsv)
MANIFESTS_REST := $(foreach s,train val,$(R)/data/manifests/$(s)-CELEB.tsv $(R)/data/manifests/$(s)-F2F.tsv \
  $(R)/data/manifests/aug-$(s)-fs.tsv $(R)/data/manifests/aug-$(s)-nt.tsv)
endif
wave0: $(MANIFESTS_TEST)
wave1: $(MANIFESTS_REST)
wave2: $(DATA_TRAIN) $(DATA_AUG) $(filter-out $(DATA_TEST_LATE),$(DATA_TEST))
wave3: $(DATA_FSNT) $(DATA_TEST_LATE)
wave4: $(R)/data/sets.tsv
wave5: $(MODELS1) $(FAKES)
wave6: $(MODELS23)
wave7: $(SCORES) $(CAMS) $(CAMS_STUDY) $(ACE)
.PHONY: wave0 wave1 wave2 wave3 wave4 wave5 wave6 wave7

# ---- figures (gnuplot; left out when it is not installed, and the report says so) -------------
GNUPLOT := $(shell command -v gnuplot 2>/dev/null)
FIGURES := $(if $(GNUPLOT),$(R)/figures/ssim.png $(R)/figures/overlap.png)
$(R)/figures/ssim.png $(R)/figures/overlap.png &: $(R)/rq3/ssim-hist.tsv $(R)/rq4/overlap5.tsv $(ROOT)/pipelines/study-figures.sh
	$(call timed,figures,sh $(ROOT)/pipelines/study-figures.sh $(R))

# ---- report -----------------------------------------------------------------------------------
# the profile's variables with their values in this run (command-line overrides included)
PROFILE_VARS := $(shell sed -n 's/^\([A-Za-z_][A-Za-z_0-9-]*\) *[:?]*=.*/\1/p' $(PROFILE_FILE))
$(R)/report.md: $(R)/data/sets.tsv $(TABLES) $(foreach n,6 7,$(R)/tables/table$(n)-all.tsv $(R)/tables/table$(n)-all.md) $(R)/rq3/ssim-hist.tsv \
  $(R)/rq4/overlap5.tsv $(R)/rq4/overlap5.md $(R)/rq4/overlap.tsv $(R)/rq4/overlap.md $(FIGURES) $(R)/figures/cams.png $(RQ3_STUDY) \
  $(ROOT)/pipelines/study-report.sh $(ROOT)/pipelines/paper-tables.tsv
	$(call timed,report,printf '%s\n' $(foreach v,$(PROFILE_VARS),'$(v) = $($(v))') > $(R)/settings.txt && \
	  PROFILE=$(PROFILE) PROFILE_FILE=$(PROFILE_FILE) DATA_SOURCE=$(DATA_SOURCE) ARCHS='$(ARCHS)' \
	  ACE_MODEL=$(ACE_MODEL) ACE_LAYER='$(ACE_LAYER)' OWN_NAMES='$(OWN_NAMES)' DETECTORS='$(DETECTORS)' TESTSETS='$(TESTSETS)' \
	  PAPER_TABLES=$(ROOT)/pipelines/paper-tables.tsv CELEB_M_EXCLUDE='$(CELEB_M_EXCLUDE)' CAM_COMPAT='$(CAM_COMPAT)' SHEET_FAKES='$(SHEET_FAKES)' BN_RECALIBRATE='$(BN_RECALIBRATE)' LR_SET='$(LR_SET)' FROZEN_BN='$(FROZEN_BN)' \
	  TRAIN_IMAGES='$(TRAIN_IMAGES)' VAL_IMAGES='$(VAL_IMAGES)' TEST_IMAGES='$(TEST_IMAGES)' TEST_IMAGES_I='$(TEST_IMAGES_I)' \
	  AUG_IMAGES_train='$(AUG_IMAGES_train)' AUG_IMAGES_val='$(AUG_IMAGES_val)' \
	  PARALLELISM='$(or $(PARALLELISM),make -j$(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),1))' \
	  sh $(ROOT)/pipelines/study-report.sh $(R) > $@.tmp && mv $@.tmp $@)
