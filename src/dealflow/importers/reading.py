"""Open what people upload: CSV (any of , ; tab; UTF-8 with or without BOM, else Windows-1252), XLSX, ZIP.

A file becomes a ``Workbook`` of ``Sheet``s (one per CSV, per XLSX worksheet or per CSV inside a ZIP).
Rows are streamed, never loaded whole, and each carries the line number a spreadsheet program shows.
Everything that cannot be read is refused with one clear sentence before a single row is looked at.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

from dealflow.core.errors import ApplicationError

MAX_COLUMNS = 500
MAX_ZIP_MEMBERS = 50
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3  # a ZIP may not unpack to more than 2 GB (zip bombs)
MAX_RATIO = 200  # nor a member of more than 16 MB expand more than 200 times (real CSVs pack 5-30x)
MAX_RATIO_FROM = 16 * 1024**2
SNIFF_BYTES = 64 * 1024
DELIMITERS = [",", ";", "\t", "|"]


Row = tuple[int, list[Any]]  # (line number as the user sees it, cells)


@dataclass
class Sheet:
    """One table: a CSV file, an XLSX worksheet or a CSV inside a ZIP."""

    name: str
    headers: list[str]
    open_rows: Callable[[], Iterator[Row]]  # a fresh iterator over the data rows each call
    size: int = 0  # bytes (CSV) or rows (XLSX), for progress
    position: Callable[[], int] = field(default=lambda: 0)  # how far the current iterator got, same unit
    delimiter: str = ""
    encoding: str = ""
    notices: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[Row]:
        return self.open_rows()


@dataclass
class Workbook:
    name: str
    kind: str  # csv, xlsx, zip
    sheets: list[Sheet]
    notices: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(sheet.size for sheet in self.sheets)


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, field="file")


def workbook_open(path: str | Path, *, name: str | None = None) -> Workbook:
    """Open a CSV, XLSX or ZIP file for reading, or refuse it with the reason."""
    path = Path(path)
    display = name or path.name
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as error:
        raise _refuse(_("The file %(name)s cannot be read.") % {"name": display}) from error
    if not head:
        raise _refuse(_("The file %(name)s is empty.") % {"name": display})
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _open_zip(path, display)
    if display.lower().endswith((".xlsx", ".xlsm", ".zip")):
        # An .xlsx or .zip is a ZIP container; anything else renamed so would be read as an empty CSV.
        raise _refuse(
            _(
                "%(name)s is named like an Excel workbook or ZIP file but is not one (it holds plain text or something else); save it from Excel as .xlsx, or name it .csv if it is a CSV file."
            )
            % {"name": display}
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(
            _("%(name)s is an old Excel (.xls) file; save it as .xlsx or CSV and upload it again.")
            % {"name": display}
        )
    encoding, notice = _detect_encoding(path, head, display)
    sheet = _csv_sheet(lambda: path.open("rb"), path.stat().st_size, display, encoding, head)
    if notice:
        sheet.notices.insert(0, notice)
    return Workbook(display, "csv", [sheet], notices=list(sheet.notices))


# ---------------------------------------------------------------------------------- text files


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13, 12))
    return controls > max(8, len(head) // 100)


def _detect_encoding(path: Path, head: bytes, display: str) -> tuple[str, str]:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else Windows-1252 or Latin-1."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _refuse(
            _("%(name)s is saved as UTF-16; save it as CSV UTF-8 and upload it again.") % {"name": display}
        )
    if _looks_binary(head):
        raise _refuse(
            _("%(name)s is not a CSV, XLSX or ZIP file (it holds binary data).") % {"name": display}
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), ""
    except UnicodeDecodeError:
        pass
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                chunk.decode("cp1252")
        encoding = "cp1252"
    except UnicodeDecodeError:
        encoding = "latin-1"
    label = "Windows-1252" if encoding == "cp1252" else "Latin-1"
    return encoding, _(
        "%(name)s is not UTF-8; it was read as %(encoding)s. Check that accented letters look right below."
    ) % {"name": display, "encoding": label}


class _CountingReader(io.RawIOBase):
    """Counts the bytes read so a progress bar can follow a streamed file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size

    def close(self) -> None:
        self.raw.close()
        super().close()


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most, and most equal, cells."""
    lines = [line for line in sample.splitlines()[:30] if line.strip()]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last sampled line may be cut off
    best, best_score = ",", -1.0
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        widths = [len(row) for row in rows]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = widths.count(common) / len(widths) * 1000 + common
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_sheet(opener: Callable[[], IO[bytes]], size: int, display: str, encoding: str, head: bytes) -> Sheet:
    sample = head.decode(encoding, errors="replace")
    if sample.startswith("\ufeff"):
        sample = sample[1:]
    delimiter = _sniff_delimiter(sample)
    state: dict[str, Any] = {"reader": None}

    def open_text() -> tuple[_CountingReader, Any]:
        counting = _CountingReader(opener())
        text = io.TextIOWrapper(io.BufferedReader(counting, 1024 * 1024), encoding=encoding, newline="")
        state["reader"] = counting
        return counting, csv.reader(text, delimiter=delimiter, strict=True)

    def read_header() -> list[str]:
        counting, reader = open_text()
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    return row
        except csv.Error as error:
            raise _refuse(
                _("%(name)s is not a readable CSV file: %(error)s") % {"name": display, "error": error}
            ) from error
        finally:
            counting.close()
        raise _refuse(_("%(name)s has no header row.") % {"name": display})

    headers = _clean_headers(read_header(), display)

    def rows() -> Iterator[Row]:
        counting, reader = open_text()
        try:
            seen_header = False
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    if "unexpected end of data" in str(error):
                        raise _refuse(
                            _(
                                "%(name)s ends inside a quoted cell that starts near line %(line)s: the file is cut off, or a quote is not closed."
                            )
                            % {"name": display, "line": reader.line_num}
                        ) from error
                    raise _refuse(
                        _("%(name)s cannot be read near line %(line)s: %(error)s")
                        % {"name": display, "line": reader.line_num, "error": error}
                    ) from error
                if not seen_header:
                    if any(cell.strip() for cell in row):
                        seen_header = True
                    continue
                if not "".join(row).strip():  # a blank row: no cell with more than spaces (one call a row)
                    continue
                yield reader.line_num, row
        finally:
            counting.close()

    def position() -> int:
        reader = state["reader"]
        return reader.count if reader is not None else 0

    notices = []
    if delimiter != ",":
        names = {";": _("semicolons"), "\t": _("tabs"), "|": _("vertical bars")}
        notices.append(
            _("%(name)s: columns are separated by %(what)s.") % {"name": display, "what": names[delimiter]}
        )
    return Sheet(
        display,
        headers,
        rows,
        size=size,
        position=position,
        delimiter=delimiter,
        encoding=encoding,
        notices=notices,
    )


def _clean_headers(row: list[Any], display: str) -> list[str]:
    cells = ["" if cell is None else str(cell).strip().lstrip("\ufeff") for cell in row]
    while cells and not cells[-1]:
        cells.pop()  # trailing empty header cells (spreadsheet programs leave them)
    if len(cells) > MAX_COLUMNS:
        raise _refuse(
            _(
                "%(name)s has %(count)s columns; Dealflow reads at most %(limit)s. Remove the columns you do not need."
            )
            % {"name": display, "count": f"{len(cells):,}", "limit": MAX_COLUMNS}
        )
    if not cells:
        raise _refuse(_("%(name)s has no header row.") % {"name": display})
    headers: list[str] = []
    for index, cell in enumerate(cells):
        header = cell or f"column {index + 1}"
        if header in headers:  # two columns with one name: keep both apart
            header = f"{header} ({index + 1})"
        headers.append(header)
    return headers


# ---------------------------------------------------------------------------------- XLSX and ZIP


def _open_zip(path: Path, display: str) -> Workbook:
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise _refuse(_("%(name)s is a damaged or incomplete ZIP/XLSX file.") % {"name": display}) from error
    if sum(info.file_size for info in archive.infolist()) > MAX_UNCOMPRESSED_BYTES:
        archive.close()
        raise _refuse(_("%(name)s unpacks to more than 2 GB.") % {"name": display})
    for info in archive.infolist():
        # Declared sizes are checked before anything is unpacked; Python's zipfile then stops each member at
        # its declared size, so the actual expansion cannot pass the declared one.
        if info.file_size > MAX_RATIO_FROM and info.file_size > MAX_RATIO * max(1, info.compress_size):
            archive.close()
            raise _refuse(
                _(
                    "%(name)s: %(member)s unpacks to %(ratio)s times its packed size, as ZIP bombs do; it is refused."
                )
                % {
                    "name": display,
                    "member": info.filename,
                    "ratio": f"{info.file_size // max(1, info.compress_size):,}",
                }
            )
    if "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names):
        archive.close()
        return _open_xlsx(path, display)
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX")
        and not Path(info.filename).name.startswith(".")
    ]
    if len(members) > MAX_ZIP_MEMBERS:
        raise _refuse(
            _("%(name)s holds more than %(limit)s files.") % {"name": display, "limit": MAX_ZIP_MEMBERS}
        )
    if sum(info.file_size for info in members) > MAX_UNCOMPRESSED_BYTES:
        raise _refuse(_("%(name)s unpacks to more than 2 GB.") % {"name": display})
    sheets: list[Sheet] = []
    notices: list[str] = []
    for info in members:
        member_name = Path(info.filename).name
        if not member_name.lower().endswith((".csv", ".txt", ".tsv")):
            notices.append(
                _("%(name)s: skipped %(member)s (not a CSV file).") % {"name": display, "member": member_name}
            )
            continue
        try:
            with archive.open(info) as handle:
                head = handle.read(SNIFF_BYTES)
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as error:
            raise _refuse(
                _("%(name)s is damaged: %(member)s cannot be unpacked.")
                % {"name": display, "member": member_name}
            ) from error
        if not head.strip():
            notices.append(_("%(member)s is empty; skipped.") % {"member": member_name})
            continue
        encoding, notice = _zip_member_encoding(archive, info, head, member_name)

        def opener(info: zipfile.ZipInfo = info) -> Any:
            return _ZipMember(path, info)

        sheet = _csv_sheet(opener, info.file_size, member_name, encoding, head)
        if notice:
            sheet.notices.insert(0, notice)
        notices.extend(sheet.notices)
        sheets.append(sheet)
    archive.close()
    if not sheets:
        raise _refuse(_("%(name)s holds no CSV file.") % {"name": display})
    return Workbook(display, "zip", sheets, notices=notices)


class _ZipMember(io.RawIOBase):
    """A member of a ZIP opened on its own, so each pass over it starts afresh."""

    def __init__(self, path: Path, info: zipfile.ZipInfo) -> None:
        self.archive = zipfile.ZipFile(path)
        self.handle = self.archive.open(info)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.handle.read(len(buffer))
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise _refuse(_("The ZIP file is damaged or incomplete.")) from error
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        try:
            return self.handle.read(size)
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise _refuse(_("The ZIP file is damaged or incomplete.")) from error

    def close(self) -> None:
        self.handle.close()
        self.archive.close()
        super().close()


def _zip_member_encoding(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, head: bytes, member: str
) -> tuple[str, str]:
    if _looks_binary(head):
        raise _refuse(_("%(name)s is not a CSV file (it holds binary data).") % {"name": member})
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), ""
    except UnicodeDecodeError:
        return "cp1252", _("%(name)s is not UTF-8; it was read as Windows-1252.") % {"name": member}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise _refuse(
            _("%(name)s cannot be unpacked; the ZIP file is damaged.") % {"name": member}
        ) from error


def _refuse_xml_declarations(path: Path, display: str) -> None:
    """Refuse a workbook whose XML parts declare a DTD: Excel never writes one, and entity tricks
    (billion laughs, external entities) live there. Checked before openpyxl parses anything."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            with archive.open(info) as handle:
                head = handle.read(4096)
            if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
                raise _refuse(
                    _(
                        "%(name)s holds a document type declaration (DTD) in %(part)s, which Excel never writes; it is refused for safety. Open it in Excel and save it again."
                    )
                    % {"name": display, "part": info.filename}
                )


def _open_xlsx(path: Path, display: str) -> Workbook:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _refuse_xml_declarations(path, display)

    def load():
        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (
            InvalidFileException,
            zipfile.BadZipFile,
            KeyError,
            OSError,
            ValueError,
            TypeError,
            EOFError,
        ) as error:
            raise _refuse(_("%(name)s is a damaged or incomplete Excel file.") % {"name": display}) from error

    book = load()
    sheets: list[Sheet] = []
    try:
        for worksheet in book.worksheets:
            sheet_name = worksheet.title
            try:
                first = next(worksheet.iter_rows(values_only=True, max_row=1), None)
            except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as error:
                raise _refuse(
                    _("%(name)s is a damaged or incomplete Excel file.") % {"name": display}
                ) from error
            if first is None or not any(cell not in (None, "") for cell in first):
                continue
            headers = _clean_headers(list(first), f"{display} / {sheet_name}")
            max_row = worksheet.max_row or 0
            counter = {"row": 0}

            def rows(
                sheet_name: str = sheet_name, width: int = len(headers), counter=counter
            ) -> Iterator[Row]:
                workbook = load()
                try:
                    worksheet = workbook[sheet_name]
                    iterator = worksheet.iter_rows(values_only=True, min_row=2)
                    line = 1
                    while True:
                        try:
                            values = next(iterator)
                        except StopIteration:
                            return
                        except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as error:
                            raise _refuse(
                                _("%(name)s is a damaged or incomplete Excel file.") % {"name": display}
                            ) from error
                        line += 1
                        counter["row"] = line
                        cells = list(values)
                        if not any(cell not in (None, "") for cell in cells):
                            continue
                        while len(cells) > width and cells[-1] in (None, ""):
                            cells.pop()
                        yield line, cells
                finally:
                    workbook.close()

            sheets.append(
                Sheet(
                    f"{display} / {sheet_name}" if len(book.worksheets) > 1 else display,
                    headers,
                    rows,
                    size=max_row,
                    position=partial(dict.__getitem__, counter, "row"),
                )
            )
    finally:
        book.close()
    if not sheets:
        raise _refuse(_("%(name)s holds no sheet with data.") % {"name": display})
    return Workbook(display, "xlsx", sheets)
