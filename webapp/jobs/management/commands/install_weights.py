"""`manage.py install_weights`: convert the installed pretrained weights (EfficientNet-Lite0
on ImageNet) once into VITRINE_WEIGHTS_DIR, checked by shape and sha256."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Convert installed pretrained weights into VITRINE_WEIGHTS_DIR (once)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="convert again")

    def handle(self, *args, **options):
        from recengine.features.pretrained import INSTALLED, WeightsError, weights_install

        for name, entry in INSTALLED.items():
            try:
                path = weights_install(name, settings.VITRINE_WEIGHTS_DIR, force=options["force"])
            except WeightsError as error:
                raise CommandError(f"{entry.label}: {error}") from None
            self.stdout.write(f"{entry.label}: {path}")
