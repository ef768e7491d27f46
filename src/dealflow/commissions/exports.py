"""Payroll export (CSV, XLSX, JSON rows) and the statement page as HTML and PDF in the person's language."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from dealflow.commissions.models import Statement
from dealflow.commissions.selectors import statement_lines
from dealflow.core.money import from_minor

PAYROLL_COLUMNS = [
    "person", "username", "email", "period", "status", "currency", "quota", "credited", "attainment_percent",
    "commission", "adjustments", "total", "approved_at", "paid_at",
]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def payroll_rows(*, statements: Iterable[Statement]) -> list[dict[str, Any]]:
    """One row per statement, money as decimal strings of the statement's currency."""
    rows = []
    for statement in statements:
        currency = statement.currency
        rows.append(
            {
                "person": statement.user.display_name,
                "username": statement.user.username,
                "email": statement.user.email,
                "period": statement.period_key,
                "status": statement.status,
                "currency": currency,
                "quota": str(from_minor(statement.quota_minor, currency))
                if statement.quota_minor is not None
                else "",
                "credited": str(from_minor(statement.credit_minor, currency)),
                "attainment_percent": str(statement.attainment_percent)
                if statement.attainment_percent is not None
                else "",
                "commission": str(from_minor(statement.commission_minor, currency)),
                "adjustments": str(from_minor(statement.adjustment_minor, currency)),
                "total": str(from_minor(statement.total_minor, currency)),
                "approved_at": statement.approved_at.isoformat() if statement.approved_at else "",
                "paid_at": statement.paid_at.isoformat() if statement.paid_at else "",
            }
        )
    return rows


def _safe(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula gets a leading apostrophe (negative numbers stay)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def payroll_csv(*, statements: Iterable[Statement]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PAYROLL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in payroll_rows(statements=statements):
        writer.writerow({key: _safe(value) for key, value in row.items()})
    return buffer.getvalue()


def payroll_xlsx(*, statements: Iterable[Statement]) -> bytes:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title="Payroll")
    sheet.append(PAYROLL_COLUMNS)
    numeric = {"quota", "credited", "attainment_percent", "commission", "adjustments", "total"}
    for row in payroll_rows(statements=statements):
        cells: list[Any] = []
        for column in PAYROLL_COLUMNS:
            value = row[column]
            if column in numeric and value != "":
                cells.append(float(value))
            else:
                cell = WriteOnlyCell(sheet, value=str(value))
                cell.data_type = "s"  # text stays text: '=...' never becomes a formula
                cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def statement_html(*, statement: Statement) -> str:
    """The statement page in the person's language and that language's number and date formats."""
    language = statement.user.language or "en"
    with translation.override(language):
        return render_to_string(
            "commissions/statement_pdf.html",
            {"statement": statement, "lines": statement_lines(statement=statement), "language": language},
        )


def pdf_from_html(html: str) -> bytes:
    """A statement page as a PDF (A4), the way quotes are rendered. Slow for long statements (1.5-2.0 s for
    186 lines): pages and the API serve the PDF that services.documents keeps."""
    from weasyprint import HTML  # imported here: it loads pango, which only PDF output needs

    pdf: bytes = HTML(string=html, base_url=None).write_pdf()
    return pdf


def statement_filename(*, statement: Statement, extension: str = "pdf") -> str:
    return f"commission-{statement.user.username}-{statement.period_key}.{extension}"
