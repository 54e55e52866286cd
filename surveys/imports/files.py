"""Uploaded files: kept in the database in parts, recognised (format, encoding, delimiter)
and read back as a stream of rows, never whole.

CSV goes through the csv module over a text stream; XLSX through openpyxl in read-only mode
with formulas kept as their text (never evaluated).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils.translation import gettext as _

from csat.errors import ApplicationError
from surveys.imports.models import ImportFilePart, ImportJob

PART_SIZE = 1024 * 1024  # bytes of one ImportFilePart
SAMPLE_SIZE = 64 * 1024  # bytes read to recognise a CSV file's encoding and delimiter
PREVIEW_ROWS = 10
CSV_EXTENSIONS = {".csv", ".txt", ".tsv"}
XLSX_EXTENSIONS = {".xlsx"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format
DELIMITERS = ",;\t|"
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "gb18030": "GBK"}

Cell = str | int | float | bool | datetime | date | time | None


class ImportFileError(Exception):
    """The file cannot be read on (a bad byte, a broken archive): a terminal problem."""


def max_file_bytes() -> int:
    return int(settings.IMPORT_MAX_FILE_MB) * 1024 * 1024


def too_large_message() -> str:
    return _("The file is larger than the %(limit)s MB limit: split it into smaller files.") % {
        "limit": settings.IMPORT_MAX_FILE_MB
    }


# ---------------------------------------------------------------- storage in the database


def file_store(job: ImportJob, upload: UploadedFile) -> None:
    """Copy an upload into the job's parts, one part in memory at a time."""
    table = connection.ops.quote_name(ImportFilePart._meta.db_table)
    sql = f"INSERT INTO {table} (job_id, number, data) VALUES (%s, %s, %s)"
    number = 0
    buffer = b""
    with connection.cursor() as cursor:
        # The database cursor itself, not Django's wrapper: with DEBUG on, the wrapper would
        # keep every megabyte it sends (as text) in connection.queries.
        raw = cursor.cursor
        for piece in upload.chunks(PART_SIZE):
            buffer += piece
            while len(buffer) >= PART_SIZE:
                raw.execute(sql, [job.pk, number, buffer[:PART_SIZE]])
                buffer = buffer[PART_SIZE:]
                number += 1
        if buffer:
            raw.execute(sql, [job.pk, number, buffer])


class StoredFile(io.RawIOBase):
    """A job's file read back from its parts: readable and seekable (zip needs to seek)."""

    def __init__(self, job_id: int, size: int) -> None:
        self.job_id = job_id
        self.size = size
        self.position = 0
        self._number = -1
        self._part = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _load(self, number: int) -> bytes:
        if number != self._number:
            data = (
                ImportFilePart.objects.filter(job_id=self.job_id, number=number)
                .values_list("data", flat=True)
                .first()
            )
            if data is None:
                raise ImportFileError(_("The uploaded file is incomplete: upload it again."))
            self._number, self._part = number, bytes(data)
        return self._part

    def readinto(self, target: Any) -> int:
        if self.position >= self.size:
            return 0
        number, offset = divmod(self.position, PART_SIZE)
        part = self._load(number)
        count = min(len(target), len(part) - offset)
        target[:count] = part[offset : offset + count]
        self.position += count
        return count


def _open_binary(job: ImportJob) -> io.BufferedReader:
    return io.BufferedReader(StoredFile(job.pk, job.file_size), buffer_size=PART_SIZE)


# ---------------------------------------------------------------- recognising a file


@dataclass
class FileShape:
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    headers: list[str] = field(default_factory=list)
    # (row number, cells as text) of the first rows.
    preview: list[tuple[int, list[str]]] = field(default_factory=list)


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, {"file": [message]})


def detect_format(name: str, head: bytes) -> str:
    """CSV or XLSX from the name and the first bytes; anything else is refused."""
    extension = PurePath(name).suffix.lower()
    if extension in XLSX_EXTENSIONS:
        if not head.startswith(ZIP_MAGIC):
            raise _refuse(_("This file is not a valid .xlsx workbook: open it and save it again."))
        return ImportJob.Format.XLSX
    if extension in CSV_EXTENSIONS:
        if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
            raise _refuse(
                _("This is a spreadsheet, not CSV text: upload it as .xlsx or save it as CSV.")
            )
        return ImportJob.Format.CSV
    raise _refuse(
        _("Unknown file format %(extension)s: upload a .csv or .xlsx file.")
        % {"extension": extension or _("(no extension)")}
    )


def detect_encoding(sample: bytes, is_whole_file: bool) -> str:
    """UTF-8 (with or without a BOM), else GBK (as GB18030, its superset); refuse the rest."""
    if sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _refuse(_("The file is UTF-16 text: save it as CSV UTF-8 and upload it again."))
    else:
        encoding = ""
        for candidate in ("utf-8", "gb18030"):
            # Incremental, so a character cut at the end of the sample is not an error.
            decoder = codecs.getincrementaldecoder(candidate)()
            try:
                decoder.decode(sample, final=is_whole_file)
            except UnicodeDecodeError:
                continue
            encoding = candidate
            break
        if not encoding:
            raise _refuse(
                _(
                    "The file is neither UTF-8 nor GBK text: save it as CSV UTF-8 "
                    "and upload it again."
                )
            )
    if "\x00" in sample.decode(encoding, errors="ignore"):
        raise _refuse(_("The file holds binary data, not CSV text."))
    return encoding


def detect_delimiter(text: str) -> str:
    """The delimiter of the header line: the candidate it holds most often (comma if none)."""
    first_line = text.splitlines()[0] if text else ""
    counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def file_inspect(job: ImportJob) -> FileShape:
    """Read a stored file's shape: format details, header and the first rows as they will be
    read. Refuses (ApplicationError) what cannot be read."""
    stream = _open_binary(job)
    head = stream.read(SAMPLE_SIZE)
    file_format = detect_format(job.file_name, head)
    shape = FileShape(file_format=file_format)
    if file_format == ImportJob.Format.CSV:
        shape.encoding = detect_encoding(head, is_whole_file=len(head) >= job.file_size)
        sample = head.decode(shape.encoding, errors="ignore")
        shape.delimiter = detect_delimiter(sample)
    else:
        _check_archive(job)
    job.file_format, job.encoding, job.delimiter = file_format, shape.encoding, shape.delimiter
    try:
        with open_rows(job) as reader:
            shape.headers = reader.headers
            for number, cells in reader:
                shape.preview.append((number, [cell_text(cell) for cell in cells]))
                if len(shape.preview) >= PREVIEW_ROWS:
                    break
    except ImportFileError as error:
        raise _refuse(str(error)) from None
    if not any(header.strip() for header in shape.headers):
        raise _refuse(_("The file has no header row: its first row must name the columns."))
    if not shape.preview:
        raise _refuse(_("The file has a header but no rows under it."))
    return shape


def _check_archive(job: ImportJob) -> None:
    """An .xlsx is a zip archive: refuse a broken one, and one that would unpack to far more
    than the size limit (a zip bomb)."""
    try:
        with zipfile.ZipFile(_open_binary(job)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise _refuse(
            _("This file is not a valid .xlsx workbook: open it and save it again.")
        ) from None
    if unpacked > settings.IMPORT_MAX_XLSX_UNPACKED_MB * 1024 * 1024:
        raise _refuse(
            _("The workbook unpacks to more than %(limit)s MB: split it into smaller files.")
            % {"limit": settings.IMPORT_MAX_XLSX_UNPACKED_MB}
        )


# ---------------------------------------------------------------- reading rows


def cell_text(cell: Cell) -> str:
    """A cell as text: what a text answer stores and what the report shows. Whole numbers
    from a workbook lose their '.0'; a formula stays its text."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    return str(cell)


class RowReader(ABC):
    """Iterates (row number, cells) over the data rows; the header is row 1, as in a
    spreadsheet. Entirely blank rows are passed over."""

    headers: list[str]

    @abstractmethod
    def __iter__(self) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) of each data row."""

    @abstractmethod
    def fraction_read(self) -> float:
        """How much of the file has been read, 0 to 1 (the progress bar)."""


class CsvRowReader(RowReader):
    def __init__(self, job: ImportJob, binary: IO[bytes], raw: StoredFile) -> None:
        self.raw = raw
        self.size = job.file_size
        self.text = io.TextIOWrapper(binary, encoding=job.encoding or "utf-8", newline="")
        self.reader = csv.reader(self.text, delimiter=job.delimiter or ",")
        self.headers = [header.strip() for header in self._next() or []]

    def _next(self) -> list[str] | None:
        try:
            return next(self.reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise ImportFileError(
                _("The file is not valid %(encoding)s text after row %(row)s.")
                % {
                    "encoding": ENCODING_LABELS.get(self.text.encoding, self.text.encoding),
                    "row": self.reader.line_num,
                }
            ) from None
        except csv.Error as error:
            raise ImportFileError(
                _("The CSV file cannot be read after row %(row)s: %(problem)s")
                % {"row": self.reader.line_num, "problem": error}
            ) from None

    def __iter__(self) -> Iterator[tuple[int, list[Cell]]]:
        number = 1
        while (cells := self._next()) is not None:
            number += 1
            if any(cell.strip() for cell in cells):
                yield number, list(cells)

    def fraction_read(self) -> float:
        return min(1.0, self.raw.tell() / self.size) if self.size else 1.0


class XlsxRowReader(RowReader):
    def __init__(self, binary: IO[bytes]) -> None:
        from openpyxl import load_workbook

        try:
            # data_only=False: a formula cell reads as its formula text, never a computed value.
            self.workbook = load_workbook(binary, read_only=True, data_only=False, keep_links=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError):
            raise ImportFileError(
                _("This file is not a valid .xlsx workbook: open it and save it again.")
            ) from None
        if not self.workbook.worksheets:
            raise ImportFileError(_("The workbook has no sheet."))
        self.sheet = self.workbook.worksheets[0]
        self.total = self.sheet.max_row or 0
        self.current = 0
        self.rows = self.sheet.iter_rows()
        header = self._next()
        self.headers = [cell_text(cell).strip() for cell in (header[1] if header else [])]

    def _next(self) -> tuple[int, list[Cell]] | None:
        try:
            cells = next(self.rows)
        except StopIteration:
            return None
        except Exception as error:  # openpyxl raises many kinds on a damaged sheet
            raise ImportFileError(
                _("The workbook cannot be read after row %(row)s: %(problem)s")
                % {"row": self.current, "problem": error}
            ) from None
        number = next((cell.row for cell in cells if getattr(cell, "row", None)), self.current + 1)
        self.current = number
        return number, [cell.value for cell in cells]

    def __iter__(self) -> Iterator[tuple[int, list[Cell]]]:
        while (row := self._next()) is not None:
            number, cells = row
            if any(cell is not None and cell_text(cell).strip() for cell in cells):
                yield number, cells

    def fraction_read(self) -> float:
        return min(1.0, self.current / self.total) if self.total else 0.0

    def close(self) -> None:
        self.workbook.close()


@contextmanager
def open_rows(job: ImportJob) -> Iterator[RowReader]:
    """A reader over a stored file's rows, streaming (one part of the file in memory)."""
    raw = StoredFile(job.pk, job.file_size)
    binary = io.BufferedReader(raw, buffer_size=PART_SIZE)
    if job.file_format == ImportJob.Format.XLSX:
        reader = XlsxRowReader(binary)
        try:
            yield reader
        finally:
            reader.close()
    else:
        yield CsvRowReader(job, binary, raw)
