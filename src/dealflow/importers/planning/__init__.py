"""The import plan: what a file would create, update and skip, every problem, and every open question.

``plan_build`` reads the file, maps its columns, parses its rows, matches names and ids to what the
database holds, and turns each row into an operation (create or update, with references to records the
same import creates). The preview shows the plan; the writer (``writing.py``) executes it. Building the
plan writes nothing, so a dry run is exactly a plan that is not written.

The package builds it in parts, one per kind of record (``contacts``, ``leads``, ``deals`` with
``history``, ``activities``), each a layer of the builder on top of ``base``; ``operations`` holds what
a plan is made of, ``sheets`` which column feeds which field, ``words`` the vocabulary of other systems.
"""

from dealflow.importers.planning.operations import (
    ActivityOp,
    Counts,
    DealChange,
    DealCreate,
    DealStep,
    ImportPlan,
    RecordOp,
    UserOp,
)
from dealflow.importers.planning.plan import plan_build
from dealflow.importers.planning.sheets import headers_key
from dealflow.importers.planning.words import is_roster, title_render, undated_label

__all__ = [
    "ActivityOp",
    "Counts",
    "DealChange",
    "DealCreate",
    "DealStep",
    "ImportPlan",
    "RecordOp",
    "UserOp",
    "headers_key",
    "is_roster",
    "plan_build",
    "title_render",
    "undated_label",
]
