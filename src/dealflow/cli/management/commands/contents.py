"""`dealflow contents import FILE --entity lines|deals|organizations|persons|leads` and `dealflow contents
fields`: line items, custom field values and tags from a file (the exports' layout), and the defined fields."""

from __future__ import annotations

from django.utils.translation import gettext as _

from dealflow.cli.base import DealflowCommand, acting_user
from dealflow.customfields.models import Entity
from dealflow.customfields.selectors import custom_field_list
from dealflow.importers.contents import custom_values_import, lines_import


class Command(DealflowCommand):
    help = _("Import line items, custom field values and tags; list the custom fields.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        importing = sub.add_parser("import", help=_("Read a file in the layout of `dealflow export`."))
        importing.add_argument("file")
        importing.add_argument(
            "--entity", required=True, choices=["lines", "deals", "organizations", "persons", "leads"]
        )
        importing.add_argument("--user")
        sub.add_parser("fields", help=_("The custom fields and their keys."))

    def handle(self, *args, action: str, **options):
        if action == "fields":
            for entity in Entity.values:
                for field in custom_field_list(entity=entity, include_inactive=True, all_pipelines=True):
                    extra = ", ".join(field.choices) or field.currency
                    required = " required" if field.is_required else ""
                    self.stdout.write(
                        f"{entity}\t{field.key}\t{field.label}\t{field.kind}{required}\t{extra}"
                    )
            return
        user = acting_user(options.get("user"))
        if options["entity"] == "lines":
            result = lines_import(path=options["file"], by=user)
            message = _("%(lines)s lines on %(deals)s deals.") % {
                "lines": result.lines,
                "deals": result.records,
            }
        else:
            result = custom_values_import(path=options["file"], entity=options["entity"], by=user)
            message = _("Custom fields and tags of %(count)s records.") % {"count": result.records}
        self.stdout.write(self.style.SUCCESS(message))
        if result.ignored_columns:
            self.stdout.write(
                _("Columns not imported: %(names)s") % {"names": ", ".join(result.ignored_columns)}
            )
