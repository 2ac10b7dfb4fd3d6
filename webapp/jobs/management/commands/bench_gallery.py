"""`manage.py bench_gallery`: the engine's benchmark on the gallery in the database.

The same runner and options as `python -m recengine bench`, fed from the catalogue: its
events with their kinds (purchases and likes), item features from a feature set (extracted
when missing), the images for the models that read pixels, each work's listing and sale
time for the one-of-a-kind protocol, and the demo gallery's hidden tastes for the oracle
(a reference, not a method).

    manage.py bench_gallery --models vbpr --export var/gallery.npz   # for bench_peers
    manage.py bench_gallery --protocol one-of-a-kind \\
        --models popularity,random,curatornet@uniform,curatornet@guided,oracle \\
        --params '{"curatornet@uniform": {"sampling": "uniform"}, ...}' --out results.json
"""

import argparse
import shlex
import sys

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from webapp.catalogue.models import Artwork


class Command(BaseCommand):
    help = "Fit, tune on validation and evaluate engine models on the catalogue."

    def add_arguments(self, parser):
        from recengine.__main__ import add_bench_arguments

        add_bench_arguments(parser)
        parser.add_argument("--features", default="handcrafted", help="extractor or feature set")
        parser.add_argument("--features-weights", default="", help="file in VITRINE_WEIGHTS_DIR")
        parser.add_argument("--features-image-size", type=int)
        parser.add_argument("--features-l2", action="store_true")
        parser.add_argument("--features-pca", type=int)
        parser.add_argument(
            "--export",
            metavar="FILE",
            help="write the events, features and stock times the models would read to FILE "
            "(.npz, for `python -m recengine.bench_peers --gallery FILE`) and stop",
        )

    def handle(self, *args, **options):
        from recengine.bench import model_name, run
        from recengine.datasets import BenchmarkData
        from recengine.models import model_info
        from webapp.catalogue.datasets import (
            artwork_times,
            catalogue_interactions,
            has_hidden_tastes,
        )
        from webapp.jobs.features import FeatureError, feature_set_ensure

        if not Artwork.objects.exists():
            raise CommandError("the catalogue is empty: make_demo_gallery or import_gallery first")
        names = [n.strip() for n in options["models"].split(",") if n.strip()]
        try:
            needs = {need for n in names for need in model_info(model_name(n))["needs"]}
        except ValueError as error:
            raise CommandError(str(error)) from None
        params = options["params"] or ""
        feature_set = None
        if "item_features" in needs:
            try:
                feature_set = feature_set_ensure(
                    name=options["features"],
                    weights=options["features_weights"],
                    image_size=options["features_image_size"],
                    l2=options["features_l2"],
                    pca_dim=options["features_pca"],
                )
            except FeatureError as error:
                raise CommandError(str(error)) from None
            self.stderr.write(f"features: {feature_set} — {feature_set.source}")
        data = catalogue_interactions(
            feature_set=feature_set,
            with_hidden_tastes=has_hidden_tastes(),
            with_images="item_images" in needs or '"fine_tune": true' in params,
        )
        artwork_ids = [int(key) for key in data.item_ids]
        listed_at, sold_at = artwork_times(artwork_ids)
        # A work marked sold without a known sale time was never in stock as far as the
        # protocol can tell: it is no candidate at any time.
        sold = dict(Artwork.objects.values_list("id", "is_sold"))
        unknown = np.isnan(sold_at) & np.asarray([sold[pk] for pk in artwork_ids])
        sold_at = np.where(unknown, -np.inf, sold_at)
        gallery = BenchmarkData(
            name="gallery" + (f" ({feature_set.source})" if feature_set else ""),
            train=None,
            valid=None,
            test=None,
            interactions=data,
            negatives=None,
            item_listed_at=listed_at,
            item_sold_at=sold_at,
        )
        if options["export"]:
            from recengine.saved_data import save_benchmark_data

            path = save_benchmark_data(gallery, options["export"])
            self.stdout.write(f"wrote {path} ({len(data)} events, {data.n_items} works)")
            return
        keys = (
            "models protocol split k sampled negatives metrics seed grid no_validation select "
            "target_kinds profile_kinds params out per_user quiet"
        ).split()
        namespace = argparse.Namespace(
            **{k: options[k] for k in keys},
            data=None,
            command_line="uv run python manage.py bench_gallery "
            + " ".join(shlex.quote(a) for a in sys.argv[2:]),
        )
        try:
            run(namespace, data=gallery)
        except (ValueError, MemoryError) as error:
            raise CommandError(str(error)) from None
