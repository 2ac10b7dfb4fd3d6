"""manage.py import_gallery: a thin wrapper around webapp.catalogue.importing.gallery_import,
through the service that checks the acting user (--user or $VITRINE_USER) may import."""

import sys

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from webapp.catalogue.importing import ImportFailed, ImportInterrupted
from webapp.catalogue.services import gallery_import_by
from webapp.permissions import command_user, user_argument_add


class Command(BaseCommand):
    help = (
        "Import items, interactions and optionally images and embeddings. Every input is "
        "validated first; if anything is wrong, every problem is listed and nothing is written. "
        "Re-importing the same files creates no duplicates. See docs/import.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--items",
            help="items CSV (item_id, title, artist, …); without it, the ids in the "
            "interactions and embeddings become works titled by their id",
        )
        parser.add_argument(
            "--interactions",
            required=True,
            help="interactions CSV (user_id, item_id, timestamp, …)",
        )
        parser.add_argument("--images", help="folder holding the images named in the items CSV")
        parser.add_argument("--embeddings", help=".npy rows [item_id, v1, …] or .npz ids/vectors")
        parser.add_argument(
            "--embeddings-name", default="imported", help="feature set name (default: imported)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count, write nothing"
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar even on a terminal"
        )
        user_argument_add(parser)

    def handle(self, *args, **options):
        user = command_user(options["acting_user"])
        progress, close = self._progress(options)
        try:
            report = gallery_import_by(
                user=user,
                items_path=options["items"],
                interactions_path=options["interactions"],
                images_dir=options["images"],
                embeddings_path=options["embeddings"],
                embeddings_name=options["embeddings_name"],
                dry_run=options["dry_run"],
                progress=progress,
            )
        except ImportFailed as failed:
            raise CommandError(failed.report.render()) from None
        except PermissionDenied as refused:
            raise CommandError(str(refused)) from None
        except ImportInterrupted as stopped:
            close()
            outcome = (
                "the import had committed and is complete"
                if stopped.committed
                else "nothing was written and no stored file was left behind"
            )
            self.stderr.write(f"{stopped}: {outcome}.")
            sys.exit(stopped.exit_code)  # as a shell reports a process ended by the signal
        finally:
            close()
        self.stdout.write(report.render())

    def _progress(self, options):
        """A tqdm bar per stage on an interactive terminal; nothing otherwise."""
        if options["no_progress"] or options["verbosity"] < 1 or not sys.stderr.isatty():
            return None, lambda: None
        try:
            from tqdm import tqdm
        except ImportError:  # optional
            return None, lambda: None
        state = {"stage": None, "bar": None}

        def close():
            if state["bar"] is not None:
                state["bar"].close()
                state["bar"] = None

        def progress(stage, done, total):
            if stage != state["stage"]:
                close()
                state["stage"] = stage
                state["bar"] = tqdm(total=total, desc=stage, unit="row", leave=False)
            bar = state["bar"]
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        return progress, close
