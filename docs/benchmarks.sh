#!/usr/bin/env bash
# Every command behind docs/benchmarks.md, by section: `bash docs/benchmarks.sh citeulike`.
# Each writes JSON under docs/results/; `python -m recengine report docs/results/X.json`
# prints the table again. Sections run one at a time: they time themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${VITRINE_DATA:-../shared/data}
OUT=docs/results
R="uv run --frozen python -m recengine"
M="uv run --frozen python manage.py"

citeulike() {
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet \
    --models random,popularity,mf --out $OUT/citeulike-simple.json
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet --grid \
    --models itemknn,userknn,wmf,ease --per-user $OUT/citeulike-baselines-users.npz \
    --out $OUT/citeulike-baselines.json
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet --grid \
    --models bpr --out $OUT/citeulike-bpr.json
  # BPR-MF with the hinge (margin) loss, at the setting BPR's grid chose
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet --models bpr@hinge \
    --params '{"bpr@hinge": {"factors": 256, "lr": 0.001, "reg": 0.003, "loss": "hinge"}}' \
    --out $OUT/citeulike-bpr-hinge.json
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet --grid \
    --models slim --out $OUT/citeulike-slim.json
}

# "Are we really making progress": NeuMF (GMF and MLP pre-trained, its default) against the
# tuned BPR-MF, EASE and WMF, one run, paired. The baselines take the settings the citeulike
# section's grids chose on validation (BPR's best setting was still improving at its
# 100-epoch cap, so it may run to 200 here; early stopping on validation decides).
citeulike_neumf() {
  $R bench --data $DATA/citeulike-a --protocol sampled --k 10 --quiet \
    --models neumf,bpr,ease,wmf \
    --params '{"bpr": {"factors": 256, "lr": 0.001, "reg": 0.003, "epochs": 200},
               "ease": {"l2": 300}, "wmf": {"factors": 64, "alpha": 40.0, "reg": 1.0}}' \
    --per-user $OUT/citeulike-neumf-rows.npz --out $OUT/citeulike-neumf.json
  # NeuMF against each baseline (the bench itself pairs only the best with the rest)
  $R seeds --metric NDCG@10 --pairs neumf:bpr,neumf:ease,neumf:wmf,wmf:bpr,wmf:ease \
    --out $OUT/citeulike-neumf-pairs.json $OUT/citeulike-neumf.json \
    > $OUT/citeulike-neumf-pairs.md
}

ease_speed() {
  $R bench-ease --data $DATA/citeulike-a --l2 300 --repeat 3 --out $OUT/ease-speed.json
}

beauty() {
  $R bench --data $DATA/beauty --split temporal-loo --protocol sampled --sampled 99 \
    --k 1,5,10 --quiet --models popularity,bpr,gru4rec,caser,sasrec \
    --per-user $OUT/beauty-sequential-users.npz --out $OUT/beauty-sequential.json
}

# Caser again, evaluated with the user embedding it trained (issue 11): the beauty section's
# run read profiles with a zero user vector. Popularity again as the same-run line.
beauty_caser() {
  $R bench --data $DATA/beauty --split temporal-loo --protocol sampled --sampled 99 \
    --k 1,5,10 --quiet --models popularity,caser \
    --per-user $OUT/beauty-caser-users.npz --out $OUT/beauty-caser.json
}

gowalla() {
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet \
    --models popularity,random,mf --out $OUT/gowalla-simple.json
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet --grid \
    --models itemknn,userknn --out $OUT/gowalla-knn.json
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet --grid \
    --models wmf --out $OUT/gowalla-wmf.json
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet --grid \
    --models ease --out $OUT/gowalla-ease.json
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet \
    --models bpr,slim --out $OUT/gowalla-bpr-slim.json
}

# Mult-VAE, EASE and LightGCN side by side. LightGCN's paper trains 1000 epochs (a GPU run);
# EPOCHS bounds it on a CPU and the JSON records what it got.
gowalla_deep() {
  $R bench --data $DATA/gowalla --protocol full --k 20 --select Recall@20 --quiet \
    --models multvae,ease,lightgcn \
    --params "{\"ease\": {\"l2\": 100}, \"lightgcn\": {\"epochs\": ${EPOCHS:-1000},
               \"batch_size\": 16384, \"lr\": 0.005, \"eval_every\": 5}}" \
    --out $OUT/gowalla-deep.json
}

# The demo gallery (600 works, 150 collectors) on three seeds, each in its own folder so the
# site's data is untouched; the seed is the gallery's and the split's. Every protocol lists
# Popularity, Random and the oracle (a reference, not a method). SEEDS overrides the seeds.
VISRANK="visrank,visrank@mean,visrank@topk_mean"
VISRANK_PARAMS='"visrank@mean": {"aggregation": "mean"}, "visrank@topk_mean": {"aggregation": "topk_mean"}'
gallery_seed() {
  local seed=$1
  export VITRINE_VAR_DIR=var/bench-gallery-$seed
  $M migrate -v0
  $M make_demo_gallery --if-empty --seed "$seed" -v0
  local common="--k 20 --quiet --seed $seed --features handcrafted --features-image-size 128"
  $M bench_gallery --split cold-items --protocol full $common \
    --models random,popularity,$VISRANK,vbpr,curatornet,dvbpr,oracle \
    --params "{$VISRANK_PARAMS, \"dvbpr\": {\"image_size\": 48, \"epochs\": 3}}" \
    --per-user $OUT/gallery-cold-s$seed-rows.npz --out $OUT/gallery-cold-s$seed.json
  $M bench_gallery --split temporal-loo --protocol full $common \
    --models random,popularity,bpr,ease,$VISRANK,vbpr,curatornet,oracle \
    --params "{$VISRANK_PARAMS}" \
    --per-user $OUT/gallery-temporal-s$seed-rows.npz --out $OUT/gallery-temporal-s$seed.json
  $M bench_gallery --protocol one-of-a-kind $common \
    --models random,popularity,$VISRANK,vbpr,curatornet@uniform,curatornet@guided,dvbpr,oracle \
    --params "{$VISRANK_PARAMS, \"curatornet@uniform\": {\"sampling\": \"uniform\"},
               \"curatornet@guided\": {\"sampling\": \"guided\"},
               \"dvbpr\": {\"image_size\": 48, \"epochs\": 3}}" \
    --per-user $OUT/gallery-oneofakind-s$seed-rows.npz --out $OUT/gallery-oneofakind-s$seed.json
  $M bench_gallery --protocol profile-cut $common \
    --models random,popularity,$VISRANK,vbpr,curatornet,oracle --params "{$VISRANK_PARAMS}" \
    --per-user $OUT/gallery-profilecut-s$seed-rows.npz --out $OUT/gallery-profilecut-s$seed.json
  unset VITRINE_VAR_DIR
}

gallery() {
  for seed in ${SEEDS:-0 1 2}; do gallery_seed "$seed"; done
  gallery_summary
}

# Mean and spread over the seeds, and each seed's paired test over matched events.
gallery_summary() {
  # every visual method against each baseline (all reported, none picked after the fact)
  local visual="visrank visrank@mean visrank@topk_mean vbpr curatornet curatornet@uniform
                curatornet@guided dvbpr" pairs="curatornet@guided:curatornet@uniform"
  for method in $visual; do pairs="$pairs,$method:popularity,$method:random"; done
  for protocol in cold temporal oneofakind profilecut; do
    $R seeds --metric NDCG@20 --pairs "$pairs" --out $OUT/gallery-$protocol-seeds.json \
      $OUT/gallery-$protocol-s{0,1,2}.json > $OUT/gallery-$protocol-seeds.md
  done
}

# VisRank per feature extractor (the seeds' transfer-learning table), gallery seed 0.
gallery_backbones() {
  export VITRINE_VAR_DIR=var/bench-gallery-0
  for extractor in handcrafted colour lbp attractiveness resnet18 resnet50 vgg19 \
      efficientnet_b0 convnext_tiny inception_v3 vit_small_patch16_224 \
      efficientnet_lite0_imagenet; do
    $M bench_gallery --protocol profile-cut --k 20 --quiet --models visrank \
      --features "$extractor" --features-image-size 96 --metrics Recall,Precision,MRR,NDCG \
      --out "$OUT/gallery-backbone-$extractor.json" || echo "backbone $extractor failed"
  done
  $M bench_gallery --protocol profile-cut --k 20 --quiet --models random,popularity,oracle \
    --metrics Recall,Precision,MRR,NDCG --out "$OUT/gallery-backbone-lines.json"
  unset VITRINE_VAR_DIR
}

# Pretrained against random, frozen against fine-tuned (issue 12): VisRank, VBPR and
# CuratorNet on handcrafted features, random-init EfficientNet-Lite0, the ImageNet
# EfficientNet-Lite0 (frozen), and VBPR / CuratorNet with its last stage fine-tuned;
# DVBPR from the ImageNet weights against random init. Cold-start works and one-of-a-kind,
# gallery seeds 0 1 2; one run per feature set, merged per seed (models renamed
# model[features]) so `seeds` pairs them on the same events. Fine-tuning is bounded to
# FT_EPOCHS epochs on a CPU (26 s an epoch at 96 px on 2 cores); the JSON says so.
FT_EPOCHS=${FT_EPOCHS:-3}
LITE0="\"backbone\": \"tf_efficientnet_lite0\""
PRETRAINED="$LITE0, \"weights\": \"efficientnet_lite0_imagenet\""
pretrained_seed() {
  local seed=$1 name split
  export VITRINE_VAR_DIR=var/bench-gallery-$seed
  $M migrate -v0
  $M make_demo_gallery --if-empty --seed "$seed" -v0
  for protocol in cold oneofakind; do
    if [ $protocol = cold ]; then split="--split cold-items --protocol full"
    else split="--protocol one-of-a-kind"; fi
    name=$OUT/pretrained-$protocol-s$seed
    local common="$split --k 20 --quiet --seed $seed"
    $M bench_gallery $common --features handcrafted --features-image-size 128 \
      --models random,popularity,visrank,vbpr,curatornet \
      --per-user $name-hand-rows.npz --out $name-hand.json
    $M bench_gallery $common --features tf_efficientnet_lite0 --models visrank,vbpr,curatornet \
      --per-user $name-random-rows.npz --out $name-random.json
    $M bench_gallery $common --features efficientnet_lite0_imagenet \
      --models visrank,vbpr,curatornet --per-user $name-imagenet-rows.npz --out $name-imagenet.json
    $M bench_gallery $common --features efficientnet_lite0_imagenet \
      --models vbpr,curatornet,dvbpr@random,dvbpr@imagenet \
      --params "{\"vbpr\": {\"fine_tune\": true, $PRETRAINED, \"epochs\": $FT_EPOCHS},
                 \"curatornet\": {\"fine_tune\": true, $PRETRAINED, \"epochs\": $FT_EPOCHS},
                 \"dvbpr@random\": {$LITE0, \"image_size\": 64, \"epochs\": $FT_EPOCHS},
                 \"dvbpr@imagenet\": {$PRETRAINED, \"image_size\": 64, \"epochs\": $FT_EPOCHS}}" \
      --per-user $name-tuned-rows.npz --out $name-tuned.json
    $R merge $name.json $name-hand.json=hand $name-random.json=random \
      $name-imagenet.json=imagenet $name-tuned.json=tuned
  done
  unset VITRINE_VAR_DIR
}

pretrained() {
  for seed in ${SEEDS:-0 1 2}; do pretrained_seed "$seed"; done
  pretrained_summary
  pretrained_speed
}

pretrained_summary() {
  local pairs="" model
  for model in visrank vbpr curatornet; do
    pairs="$pairs,$model[imagenet]:$model[hand],$model[imagenet]:$model[random]"
  done
  pairs="${pairs#,},vbpr[tuned]:vbpr[imagenet],curatornet[tuned]:curatornet[imagenet]"
  pairs="$pairs,dvbpr@imagenet[tuned]:dvbpr@random[tuned],visrank[imagenet]:popularity[hand]"
  for protocol in cold oneofakind; do
    $R seeds --metric NDCG@20 --pairs "$pairs" --out $OUT/pretrained-$protocol-seeds.json \
      $OUT/pretrained-$protocol-s{0,1,2}.json > $OUT/pretrained-$protocol-seeds.md
  done
}

# Extraction throughput (the whole pipeline against the bare forward pass, one run).
pretrained_speed() {
  $R bench-extract --backbone tf_efficientnet_lite0 --image-size 224 --batch-size 32 \
    --images 256 --out $OUT/extract-speed-lite0.json
}

# Full-ranking evaluation of all 29,858 gowalla test users over all 40,981 items (the
# "eval s" and "eval peak MB" of each row): a trivial scorer and a 64-factor model.
eval_speed() {
  $R bench --data $DATA/gowalla --protocol full --k 20 --quiet --no-validation \
    --models popularity,wmf --params '{"wmf": {"alpha": 40, "reg": 0.01}}' \
    --out $OUT/gowalla-eval-speed.json
}

speed() {
  $R bench-extract --backbone resnet50 --image-size 224 --batch-size 32 --images 256 \
    --out $OUT/extract-speed.json
  $R bench-serving --sizes 10000,100000,1000000 --out $OUT/serving.json
  $R bench-search --sizes 10000,100000 --queries 200 --out $OUT/search-latency.json
  $R bench-search --sizes 10000,100000 --queries 200 --kinds hnsw --extractors handcrafted \
    --out $OUT/search-latency-hnsw.json
}

site() {
  $M bench_pages --out $OUT/pages.json
  $M bench_dispatch --out $OUT/dispatch.json
  $M bench_dispatch --broker redis://127.0.0.1:6379/14 --out $OUT/dispatch-redis.json
}

# The site under load (issue 13): the collector and compare pages under gunicorn, then under
# runserver, each driven by wrk at 8 connections for 60 s after a 5 s untimed run, on the
# 10,000-work gallery (prepared once in var/bench-load, then reused). Not while other work
# shares the cores: the JSON keeps the load average before and after.
load() {
  $M bench_load --folder var/bench-load --duration 60 --connections 8 --out $OUT/load.json
}

# Issue 14. Vitrine's models beside implicit and Cornac (the optional "peers" group, installed
# here and nowhere else): same data, 2 threads each, one subprocess per run. The gallery
# case reads demo gallery seed 0 (the gallery section's folder) as bench_gallery exports it.
# CASES=a,b runs only those cases, into peers-a-b.json.
peers() {
  uv sync --frozen --group peers --group dev --quiet
  export VITRINE_VAR_DIR=var/bench-gallery-0
  $M migrate -v0
  $M make_demo_gallery --if-empty --seed 0 -v0
  uv run --frozen --group peers python manage.py bench_gallery --models vbpr \
    --features handcrafted --features-image-size 128 --export var/bench-gallery-0/peers.npz
  unset VITRINE_VAR_DIR
  uv run --frozen --group peers python -m recengine.bench_peers --threads 2 \
    --gallery var/bench-gallery-0/peers.npz --cases "${CASES:-}" \
    --out $OUT/peers${CASES:+-${CASES//,/-}}.json
}

# The training-free graph filters on gowalla's LightGCN split, the papers' settings.
graph_filters() {
  $R bench --data $DATA/gowalla --protocol full --k 20 --metrics Recall,NDCG --quiet \
    --no-validation --models gfcf --out $OUT/gowalla-gfcf.json
  $R bench --data $DATA/gowalla --protocol full --k 20 --metrics Recall,NDCG --quiet \
    --no-validation --models bspm --out $OUT/gowalla-bspm.json
}

# LightGCN with the authors' settings (64 factors, 3 layers, lr 1e-3, reg 1e-4, batch 2048),
# scored on the test set every 5 epochs of one run, for as long as BUDGET minutes allow
# (THREADS: torch threads, 0 for torch's default).
lightgcn_curve() {
  uv run --frozen python -m recengine.bench_curve --data $DATA/gowalla --model lightgcn \
    --params '{"factors": 64, "layers": 3, "lr": 0.001, "reg": 0.0001, "batch_size": 2048}' \
    --every 5 --budget-minutes "${BUDGET:-60}" --threads "${THREADS:-0}" \
    --out $OUT/lightgcn-curve.json
}

# The shop's API under gunicorn on 127.0.0.1, driven by wrk (apt install wrk): a collector's
# top 20 at 10,000 and 100,000 works, impression logging on and off, event ingestion. The
# galleries are made once under var/bench-api/ (the 100,000-work one takes ~20 minutes).
api_latency() {
  $M bench_api --sizes 10000,100000 --duration 20 --connections "${CONNECTIONS:-2}" \
    --folder var/bench-api --out $OUT/api-latency${CONNECTIONS:+-c$CONNECTIONS}.json
}

# The simulated shop on a fresh demo gallery (seed 7, as make demo): VisRank and CuratorNet
# served, an A/B experiment exploring with epsilon 0.2, VISITS visits through the API, and
# each method's off-policy estimate from the other arm's lists against the simulated truth.
shop() {
  rm -rf var/bench-shop
  export VITRINE_VAR_DIR=var/bench-shop
  $M migrate -v0
  $M make_demo_gallery --seed 7 -v0
  $M shell -c "from webapp.curation.management.commands.rundemo import demo_users_ensure as d; d()"
  $M train visrank curatornet --here --user staff
  $M simulate_shop --visits "${VISITS:-3000}" --seed "${SEED:-0}" --user staff \
    --report $OUT/shop-seed${SEED:-0}.json
  unset VITRINE_VAR_DIR
}

for section in "${@:-citeulike}"; do "$section"; done
