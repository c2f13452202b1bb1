# The study as a make graph (issue 10, DESIGN.md section 4): synth data -> 30 (or ARCHS x 6)
# detectors -> score TSVs -> Tables 4-7, Grad-CAM + SSIM (RQ3), neuron analysis (RQ4), report.md.
#
#   make -f pipelines/study.mk PROFILE=quick|demo|test [RUNS=runs] [JOBS=N]
#   (or, from the top level: make study PROFILE=... / make demo)
#
# Every output is a file written atomically (the tools' -o, or a temp file renamed), so make's
# timestamps give incremental reruns and an interrupted run resumes where it stopped;
# an interrupted training resumes from its STEM.part.last.ckpt (train --resume).
# Profile variables (ARCHS, SIZE, EPOCHS1...) can be overridden on the command line.
# Independent trainings, predictions and heatmaps fan out with make -jN (the top-level
# `make study` passes -j$(JOBS), default 2).

PROFILE ?= quick
ROOT    := $(patsubst %/,%,$(dir $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))))
PROFILE_FILE := $(ROOT)/pipelines/profiles/$(PROFILE).mk
ifeq ($(wildcard $(PROFILE_FILE)),)
$(error unknown PROFILE '$(PROFILE)': no $(PROFILE_FILE))
endif
include $(PROFILE_FILE)

RUNS ?= $(ROOT)/runs
R    := $(RUNS)/$(PROFILE)
BIN  ?= $(ROOT)/bin
SEED ?= 1
export OMP_WAIT_POLICY := passive
export OMP_NUM_THREADS := $(THREADS)

.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDEXPANSION:
.PHONY: study

# ---- names ------------------------------------------------------------------------------------
# the paper's detector names (Table 4) for train's architecture names
name_meso4           := MesoNet
name_mesoinception4  := MesoInception
name_shallownet      := ShallowNet
name_xception        := XceptionNet
name_efficientnet-b0 := EfficientNet
NAMES     := $(foreach a,$(ARCHS),$(name_$(a)))
DETECTORS := $(foreach n,$(NAMES),$(addprefix $(n),1 2 3 4 5 6))
TESTSETS  := CELEB CELEB-M F2F FS NT DF DFD FS-I NT-I
lc         = $(shell echo '$(1)' | tr A-Z a-z)

# timings: one line per target (stage, target, start, end, seconds), appended as it finishes
define timed
@mkdir -p $(dir $@) $(R)
@s=$$(date +%s.%N); $(2) && e=$$(date +%s.%N) && awk -v s=$$s -v e=$$e -v st=$(1) -v t='$(patsubst $(R)/%,%,$@)' 'BEGIN { printf "%s\t%s\t%.3f\t%.3f\t%.2f\n", st, t, s, e, e - s }' >> $(R)/timings.tsv
endef

# Every file is named here, so none is intermediate: a deleted one is rebuilt (with what reads
# it) and none is removed after the run.
study: $(R)/report.md $$(ALL_FILES)

# ---- data (synth) -----------------------------------------------------------------------------
# train/val of the two training sets, FSNT = FaceSwap + NeuralTextures (stages 2/3), test sets
$(R)/data/train/%.dft:
	$(call timed,data,$(BIN)/synth --role $(call lc,$*) --split train --videos $(TRAIN_VIDEOS) --frames $(FRAMES) --size $(SIZE) --seed $(SEED) --threads $(THREADS) > $@.tmp && mv $@.tmp $@)
$(R)/data/val/%.dft:
	$(call timed,data,$(BIN)/synth --role $(call lc,$*) --split val --videos $(VAL_VIDEOS) --frames $(FRAMES) --size $(SIZE) --seed $(SEED) --threads $(THREADS) > $@.tmp && mv $@.tmp $@)
$(R)/data/test/%.dft:
	$(call timed,data,$(BIN)/synth --role $(call lc,$*) --split test --videos $(TEST_VIDEOS) --frames $(FRAMES) --size $(SIZE) --seed $(SEED) --threads $(THREADS) > $@.tmp && mv $@.tmp $@)
$(R)/data/aug/%.dft:
	$(call timed,data,$(BIN)/synth --role $(call lc,$(word 2,$(subst -, ,$*))) --split $(word 1,$(subst -, ,$*)) --videos $(AUG_VIDEOS) --frames $(FRAMES) --size $(SIZE) --seed $(SEED) --threads $(THREADS) > $@.tmp && mv $@.tmp $@)
$(R)/data/train/FSNT.dft: $(R)/data/aug/train-fs.dft $(R)/data/aug/train-nt.dft
	$(call timed,data,$(BIN)/pack --shuffle --seed $(SEED) $^ -o $@)
$(R)/data/val/FSNT.dft: $(R)/data/aug/val-fs.dft $(R)/data/aug/val-nt.dft
	$(call timed,data,$(BIN)/pack --shuffle --seed $(SEED) $^ -o $@)

# ---- models -----------------------------------------------------------------------------------
# stage 1 (k = 1, 4): from scratch on CELEB or F2F; stages 2/3 (transfer, merge) start from
# model 1 (4) and alternate batches of the training set and FSNT, as the study's scripts
TRAIN1 = $(BIN)/train --arch $(2) --train $(R)/data/train/$(1).dft --val $(R)/data/val/$(1).dft \
  --epochs $(EPOCHS1) --batch $(BATCH1) --seed 32 --threads $(THREADS) -q
TRAIN23 = $(BIN)/train --from $(3) --mode $(2) --train $(R)/data/train/$(1).dft --mix $(R)/data/train/FSNT.dft \
  --val $(R)/data/val/$(1).dft --val-mix $(R)/data/val/FSNT.dft \
  --epochs $(EPOCHS23) --batch $(BATCH23) --steps $(STEPS) --seed 32 --threads $(THREADS) -q
# train writes STEM.part.ckpt (+ .part.last.ckpt, .part.log.tsv), renamed to the target's names
# only when it finished: a killed training never leaves a checkpoint that make takes for done.
# A partial state newer than every prerequisite is that of an interrupted run: it resumes.
PART = $(@:.ckpt=.part)
RESUME = r=--resume; for d in $^; do test $(PART).last.ckpt -nt $$d || r=; done;
FINISH = && mv $(PART).last.ckpt $(@:.ckpt=.last.ckpt) && mv $(PART).log.tsv $(@:.ckpt=.log.tsv) && mv $(PART).ckpt $@

define model_rules
$(R)/models/$(1)1.ckpt: $(R)/data/train/CELEB.dft $(R)/data/val/CELEB.dft
	$$(call timed,train1,$$(RESUME) $$(call TRAIN1,CELEB,$(2)) -o $$(PART).ckpt $$$$r $$(FINISH))
$(R)/models/$(1)4.ckpt: $(R)/data/train/F2F.dft $(R)/data/val/F2F.dft
	$$(call timed,train1,$$(RESUME) $$(call TRAIN1,F2F,$(2)) -o $$(PART).ckpt $$$$r $$(FINISH))
$(R)/models/$(1)2.ckpt: $(R)/models/$(1)1.ckpt $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft
	$$(call timed,train23,$$(RESUME) $$(call TRAIN23,CELEB,transfer,$$<) -o $$(PART).ckpt $$$$r $$(FINISH))
$(R)/models/$(1)3.ckpt: $(R)/models/$(1)1.ckpt $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft
	$$(call timed,train23,$$(RESUME) $$(call TRAIN23,CELEB,merge,$$<) -o $$(PART).ckpt $$$$r $$(FINISH))
$(R)/models/$(1)5.ckpt: $(R)/models/$(1)4.ckpt $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft
	$$(call timed,train23,$$(RESUME) $$(call TRAIN23,F2F,transfer,$$<) -o $$(PART).ckpt $$$$r $$(FINISH))
$(R)/models/$(1)6.ckpt: $(R)/models/$(1)4.ckpt $(R)/data/train/FSNT.dft $(R)/data/val/FSNT.dft
	$$(call timed,train23,$$(RESUME) $$(call TRAIN23,F2F,merge,$$<) -o $$(PART).ckpt $$$$r $$(FINISH))
endef
$(foreach a,$(ARCHS),$(eval $(call model_rules,$(name_$(a)),$(a))))

# ---- scores and tables ------------------------------------------------------------------------
SCORES := $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(R)/scores/$(d)/$(t).tsv))
$(R)/scores/%.tsv: $$(R)/models/$$(*D).ckpt $$(R)/data/test/$$(*F).dft
	$(call timed,predict,$(BIN)/predict -m $< --threads $(THREADS) -o $@ $(word 2,$^))

TABLES := $(foreach n,4 5 6 7,$(R)/tables/table$(n).tsv $(R)/tables/table$(n).md)
$(R)/tables/table%.tsv: $(SCORES)
	$(call timed,tables,$(BIN)/score --table $* --dir $(R)/scores --auc -o $@ 2>$@.log)
$(R)/tables/table%.md: $(SCORES)
	$(call timed,tables,$(BIN)/score --table $* --dir $(R)/scores --auc --markdown -o $@ 2>$@.log)

# ---- RQ3: Grad-CAM of congenetic models on fake test images, SSIM between them ----------------
# a few fake images of each test set (pack has no label filter: unpack, keep the fake lines)
$(R)/rq3/fakes/%.dft: $(R)/data/test/%.dft
	$(call timed,rq3,rm -rf $@.d && $(BIN)/pack --shuffle --seed $(SEED) --balance --take $$(($(CAM_FAKES) * 2)) --unpack $@.d $< && \
	  awk -F'\t' 'NR == 1 || $$2 == "fake"' $@.d/manifest.tsv > $@.d/fakes.tsv && \
	  $(BIN)/pack --manifest $@.d/fakes.tsv -o $@ && rm -rf $@.d)
$(R)/rq3/cam/%.dft: $$(R)/models/$$(*D).ckpt $(R)/rq3/fakes/$$(*F).dft
	$(call timed,rq3,$(BIN)/cam -m $< -o $@ < $(word 2,$^))
# group G of architecture A: models 1-3 (CELEB) or 4-6 (F2F)
GROUPS := $(foreach n,$(NAMES),$(n)1-3 $(n)4-6)
group_models = $(if $(filter %1-3,$(1)),1 2 3,4 5 6)
group_name = $(patsubst %1-3,%,$(patsubst %4-6,%,$(1)))
SSIM := $(foreach g,$(GROUPS),$(foreach t,$(TESTSETS),$(R)/rq3/ssim/$(g)/$(t).tsv))
$(R)/rq3/ssim/%.tsv: $$(foreach k,$$(call group_models,$$(*D)),$$(R)/rq3/cam/$$(call group_name,$$(*D))$$(k)/$$(*F).dft)
	$(call timed,rq3,$(BIN)/ssim --intersect --hist $(@:.tsv=.hist.tsv) -o $@ $^)
$(R)/rq3/ssim-hist.tsv: $(SSIM)
	$(call timed,rq3,{ printf 'group\tdataset\tbin\tcount\tpercent\n'; for f in $(SSIM); do \
	  g=$$(basename $$(dirname $$f)); t=$$(basename $$f .tsv); \
	  awk -F'\t' -v g=$$g -v t=$$t 'NR > 1 { print g "\t" t "\t" $$0 }' $${f%.tsv}.hist.tsv; done; } > $@.tmp && mv $@.tmp $@)

# ---- RQ4: neuron causal effects (ace) of ACE_ARCH's model 1 on every test set, overlap ---------
ifeq ($(filter $(ACE_ARCH),$(ARCHS)),)
$(error ACE_ARCH '$(ACE_ARCH)' is not in ARCHS '$(ARCHS)': set ACE_ARCH (and ACE_LAYER, ACE_TOP to fit that layer's size))
endif
ACE_MODEL := $(name_$(ACE_ARCH))1
ACE := $(foreach t,$(TESTSETS),$(R)/rq4/ace/$(t).tsv)
$(R)/rq4/ace/%.tsv: $(R)/models/$(ACE_MODEL).ckpt $(R)/data/test/%.dft
	$(call timed,rq4,$(BIN)/ace -m $< $(if $(ACE_LAYER),--layer $(ACE_LAYER)) --batches $(ACE_BATCHES) --batch $(ACE_BATCH) -o $@ $(word 2,$^) 2>$@.log)
$(R)/rq4/overlap.tsv: $(ACE)
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) $^ > $@.tmp && mv $@.tmp $@)
$(R)/rq4/overlap.md: $(ACE)
	$(call timed,rq4,$(BIN)/ace --overlap --top $(ACE_TOP) --markdown $^ > $@.tmp && mv $@.tmp $@)

ALL_FILES = $(foreach a,$(NAMES),$(foreach k,1 2 3 4 5 6,$(R)/models/$(a)$(k).ckpt)) $(SCORES) $(SSIM) \
  $(foreach d,$(DETECTORS),$(foreach t,$(TESTSETS),$(R)/rq3/cam/$(d)/$(t).dft)) \
  $(foreach t,$(TESTSETS),$(R)/rq3/fakes/$(t).dft $(R)/data/test/$(t).dft) $(ACE)

# ---- figures (gnuplot; left out when it is not installed, and the report says so) -------------
GNUPLOT := $(shell command -v gnuplot 2>/dev/null)
FIGURES := $(if $(GNUPLOT),$(R)/figures/ssim.png $(R)/figures/overlap.png)
$(R)/figures/ssim.png $(R)/figures/overlap.png &: $(R)/rq3/ssim-hist.tsv $(R)/rq4/overlap.tsv $(ROOT)/pipelines/study-figures.sh
	$(call timed,figures,sh $(ROOT)/pipelines/study-figures.sh $(R))

# ---- report -----------------------------------------------------------------------------------
$(R)/report.md: $(TABLES) $(R)/rq3/ssim-hist.tsv $(R)/rq4/overlap.tsv $(R)/rq4/overlap.md $(FIGURES) \
  $(ROOT)/pipelines/study-report.sh
	$(call timed,report,PROFILE=$(PROFILE) PROFILE_FILE=$(PROFILE_FILE) ARCHS='$(ARCHS)' ACE_MODEL=$(ACE_MODEL) \
	  ACE_LAYER='$(ACE_LAYER)' JOBS=$(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),1) sh $(ROOT)/pipelines/study-report.sh $(R) > $@.tmp && mv $@.tmp $@)
