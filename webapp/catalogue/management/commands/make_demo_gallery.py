"""manage.py make_demo_gallery: a procedural demo gallery (see docs/demo_gallery.md)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from webapp.catalogue.demo_gallery import demo_gallery_create, demo_gallery_steps
from webapp.catalogue.models import Artwork


class Command(BaseCommand):
    help = (
        "Generate a deterministic demo gallery (artists, procedural paintings, collectors "
        "with hidden tastes, two years of views/likes/purchases) in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("--artworks", type=int, default=600, help="number of works (600)")
        parser.add_argument("--collectors", type=int, default=150, help="number of collectors")
        parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
        parser.add_argument("--image-size", type=int, default=128, help="image side in px")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any Artwork exists"
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Artwork.objects.exists():
            self.stdout.write("Artworks already exist; --if-empty: nothing to do.")
            return
        started = time.perf_counter()
        with tqdm(
            total=demo_gallery_steps(options["artworks"]),
            unit="step",
            file=sys.stderr,
            disable=options["verbosity"] == 0,
        ) as bar:

            def progress(stage: str, advance: int) -> None:
                bar.set_description(stage, refresh=False)
                bar.update(advance)

            try:
                result = demo_gallery_create(
                    n_artworks=options["artworks"],
                    n_collectors=options["collectors"],
                    seed=options["seed"],
                    image_size=options["image_size"],
                    progress=progress,
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        kinds = ", ".join(f"{n} {kind}s" for kind, n in sorted(result.interactions.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo gallery (seed {options['seed']}): {result.artists} artists, "
                f"{result.artworks} works ({result.sold} sold, {result.cold_start} cold-start), "
                f"{result.collectors} collectors, {kinds} "
                f"in {time.perf_counter() - started:.1f} s."
            )
        )
