"""Import a gallery (items, interactions, images, embeddings) from files.

`gallery_import` is the one entry point. It works in three phases:

1. **Validate** every input completely (CSV rows, image files, embeddings) and collect every
   problem with its file, line and reason. Nothing touches the database or the media storage
   in this phase, so `--dry-run` is simply "stop after phase 2".
2. **Plan** by reading what the database already holds: which rows would be created, updated
   or left unchanged, and which images are already stored with the same checksum.
3. **Write** the plan inside one `transaction.atomic()`. Image files and the feature-set file
   are not covered by the database transaction, so they are written to a staging folder and
   moved to their final names once it has committed; a rollback, an exception or a signal
   removes the folder, and an import first settles the folders of imports that were killed.
   Files that become obsolete (a replaced image) are only deleted once it has committed.

If phase 1 finds any problem, `ImportFailed` is raised with a report of every problem and
nothing is written.

Modules: `report` (what the caller gets back), `parsing` (CSV reading, cell values), `rows`
(the items and interactions files), `images`, `embeddings` (phase 1); `planning` (phase 2);
`writing`, `staging` (the files) and `interrupts` (signals) (phase 3); `service`
(`gallery_import`, tying them together).
"""

from webapp.catalogue.importing.interrupts import ImportInterrupted
from webapp.catalogue.importing.parsing import parse_when
from webapp.catalogue.importing.report import (
    Counts,
    ImportFailed,
    ImportReport,
    Problem,
    ProgressCallback,
)
from webapp.catalogue.importing.service import gallery_import

__all__ = [
    "ImportFailed",
    "ImportInterrupted",
    "ImportReport",
    "Problem",
    "Counts",
    "ProgressCallback",
    "gallery_import",
    "parse_when",
]
