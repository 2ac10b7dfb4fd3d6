"""`manage.py bench_gallery`: the engine's benchmark on the gallery in the database.

The same runner as `python -m recengine bench`, fed from the catalogue: interactions
(purchases and likes), item features from a feature set (extracted when missing), the
images for the models that read pixels, the listing times for the one-of-a-kind
protocol, and the demo gallery's hidden tastes for the oracle.

    manage.py bench_gallery --protocol one-of-a-kind \\
        --models curatornet@uniform,curatornet@guided \\
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
        parser.add_argument("--models", required=True)
        parser.add_argument(
            "--protocol",
            choices=("full", "sampled", "profile-cut", "one-of-a-kind"),
            default="full",
        )
        parser.add_argument(
            "--split",
            choices=("given", "temporal-loo", "random", "time-cut", "cold-items", "cold-users"),
        )
        parser.add_argument("--k", default="10,20")
        parser.add_argument("--sampled", type=int)
        parser.add_argument("--negatives", default="uniform")
        parser.add_argument("--metrics")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--grid", action="store_true")
        parser.add_argument("--select")
        parser.add_argument("--params")
        parser.add_argument("--out")
        parser.add_argument("--per-user")
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--features", default="handcrafted", help="extractor or feature set")
        parser.add_argument("--features-weights", default="", help="file in VITRINE_WEIGHTS_DIR")
        parser.add_argument("--features-image-size", type=int)
        parser.add_argument("--features-l2", action="store_true")
        parser.add_argument("--features-pca", type=int)

    def handle(self, *args, **options):
        from recengine.bench import model_name, run
        from recengine.datasets import BenchmarkData
        from recengine.models import model_info
        from webapp.catalogue.datasets import catalogue_interactions, has_hidden_tastes
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
        listed = dict(Artwork.objects.values_list("id", "listed_at"))
        listed_at = np.asarray([listed[int(key)].timestamp() for key in data.item_ids])
        gallery = BenchmarkData(
            name="gallery" + (f" ({feature_set.source})" if feature_set else ""),
            train=None,
            valid=None,
            test=None,
            interactions=data,
            negatives=None,
            item_listed_at=listed_at,
        )
        namespace = argparse.Namespace(
            **{
                k: options[k]
                for k in (
                    "models",
                    "protocol",
                    "split",
                    "k",
                    "sampled",
                    "negatives",
                    "metrics",
                    "seed",
                    "grid",
                    "select",
                    "params",
                    "out",
                    "per_user",
                    "quiet",
                )
            },
            data=None,
            command_line="uv run python manage.py bench_gallery "
            + " ".join(shlex.quote(a) for a in sys.argv[2:]),
        )
        try:
            run(namespace, data=gallery)
        except (ValueError, MemoryError) as error:
            raise CommandError(str(error)) from None
