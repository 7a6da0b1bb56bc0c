"""Reading data files safely: compression, encodings, bounded records, byte ranges.

Everything a reader takes from disk goes through here, so every reader refuses the same things
with the same one-line errors: devices and other non-files, corrupt ``.gz``/``.bz2``, records over
``max_record_bytes`` (a file without newlines, ``/dev/zero``), and bytes the encoding cannot read.
No record is ever held in memory beyond that limit.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from nlpzoo import ConfigError, did_you_mean

#: A record of 1 MiB costs the Rust tokenizers about 150-190 MB while they encode or train on it
#: (measured: word-level and WordPiece); a 20 MB line cost 3.3 GB. Longer records are refused.
MAX_RECORD_BYTES = 1 << 20
#: The most ``max_record_bytes`` may be raised to: a 50 MB record aborted the tokenizers (signal 6).
MAX_RECORD_LIMIT = 32 << 20
#: What ``encoding: auto`` looks at before choosing, and what charset-normalizer is given.
SAMPLE_BYTES = 1 << 20
AUTO = "auto"
COMPRESSED = (".gz", ".bz2")
_CORRUPT = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError; bz2 raises OSError too


class DataError(ConfigError):
    """A data file that cannot be read as asked; the message starts with ``file:line:``."""


def mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB ({n:,} bytes)" if n >= 1 << 20 else f"{n:,} bytes"


# ---------------------------------------------------------------- checking parameters


def check_encoding(encoding: str) -> str:
    """``auto`` or a codec Python knows; anything else is a ConfigError that names the nearest."""
    if encoding == AUTO:
        return encoding
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        known = ["auto", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "ascii", "cp1250", "iso8859-15",
                 "shift_jis", "gb18030", "big5", "koi8-r"]
        raise ConfigError(f"unknown encoding {encoding!r}{did_you_mean(str(encoding), known)}; use auto or a Python "
                          "codec name such as utf-8, latin-1 or cp1252", "encoding") from None
    return encoding


def check_positive(value, key: str, what: str = "a number of examples") -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"expected {what} of 1 or more, got {value!r}", key)


# ---------------------------------------------------------------- opening


def check_regular(path: str) -> os.stat_result:
    """The file's stat; a missing path, a folder, a device or a socket is a DataError naming it.

    FIFOs pass (``<(zcat corpus.gz)`` is a fair input); they are read once, like any stream.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", file=path) from None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise DataError("is a folder, expected a file", file=path)
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        kind = "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode) else "a socket"
        raise DataError(f"is {kind}, not a data file", file=path)
    return info


def open_binary(path: str):
    """A binary handle; ``.gz`` and ``.bz2`` are decompressed on the fly."""
    check_regular(path)
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")
        if path.endswith(".bz2"):
            return bz2.open(path, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", file=path) from None


def splittable(path: str) -> bool:
    """Whether a reader can start at any byte: not compressed, and a regular file it can seek in."""
    if path.endswith(COMPRESSED):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_sample(path: str, size: int = SAMPLE_BYTES) -> bytes:
    with open_binary(path) as fh:
        try:
            return fh.read(size)
        except _CORRUPT as exc:
            raise corrupt(path, exc, None) from None


def read_sample_from(fh, path: str, size: int = SAMPLE_BYTES) -> tuple[bytes, object]:
    """``(the first bytes of fh, fh)``: a sample taken from a stream that is read on afterwards."""
    try:
        return fh.read(size), fh
    except _CORRUPT as exc:
        fh.close()
        raise corrupt(path, exc, None) from None


class _Replay(io.RawIOBase):
    """A stream that gives back the sample already read from it, then the rest: a pipe is read once."""

    def __init__(self, sample_and_stream: tuple[bytes, object]):
        self.sample, self._rest = sample_and_stream
        self._pending = memoryview(self.sample)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._pending:
            n = min(len(buffer), len(self._pending))
            buffer[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def corrupt(path: str, exc: BaseException, line: int | None) -> DataError:
    kind = "gzip" if path.endswith(".gz") else "bzip2" if path.endswith(".bz2") else "compressed"
    after = f" after line {line}" if line else ""
    reason = str(exc).strip() or type(exc).__name__
    return DataError(f"corrupt or truncated {kind} data{after} ({reason})", file=path)


# ---------------------------------------------------------------- encodings

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def detect_encoding(sample: bytes, path: str) -> str:
    """The encoding of a file from its first bytes: a byte-order mark, else UTF-16 when every other
    byte is NUL (Windows tools write UTF-16 without a mark; NUL bytes are valid UTF-8), else UTF-8 if
    they are valid UTF-8, else charset-normalizer's choice.

    charset-normalizer often ranks several single-byte code pages equal on Western text (cp1250
    first, which turns ``è`` into ``č``); among equals, cp1252 wins, the usual legacy encoding of
    Western text (it reads Latin-1 text the same, apart from control characters).
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    wide = _utf16_without_bom(sample)
    if wide:
        return wide
    if _is_utf8(sample):
        return "utf-8"
    return guess_legacy(sample, path)


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for text whose every other byte is mostly NUL (Latin text in UTF-16)."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0:2 * pairs:2].count(0), sample[1:2 * pairs:2].count(0)
    if odd >= 0.3 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


def guess_legacy(sample: bytes, path: str) -> str:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # declared as a dependency; a broken install still gets one line
        raise DataError("encoding: auto needs charset-normalizer: pip install 'charset-normalizer>=3,<4'; "
                        "or set the dataset's encoding", file=path) from None
    matches = list(from_bytes(sample))
    if not matches:
        raise DataError("cannot tell which encoding this file uses; set the dataset's encoding (e.g. cp1252)", file=path)
    best = matches[0]
    tied = [m.encoding for m in matches if m.chaos == best.chaos and m.coherence == best.coherence]
    return "cp1252" if "cp1252" in tied else best.encoding


def _is_utf8(sample: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut at the end of the sample is not an error
    except UnicodeDecodeError:
        return False
    return True


def byte_oriented(encoding: str) -> bool:
    """Whether lines can be cut at ``\\n`` bytes: ASCII-compatible encodings (not UTF-16/32)."""
    try:
        return "\n".encode(encoding) == b"\n" and "a,\t\"".encode(encoding) == b"a,\t\""
    except (UnicodeError, LookupError):
        return False


# ---------------------------------------------------------------- lines


class Line(NamedTuple):
    """One line: its 1-based ``number`` (None when reading started mid-file), the byte ``offset``
    where it starts, and its text with the newline kept."""

    number: int | None
    offset: int
    text: str


class LineReader:
    """The lines of one file, decoded, each at most ``max_bytes`` long.

    ``encoding`` may be ``auto`` (see :func:`detect_encoding`): the choice is made per file and kept
    in :attr:`encoding`. A file whose first MiB is UTF-8 but a later line is not is read from that
    line on in the encoding detected there (:attr:`switched` says where). ``lines(start, end)``
    yields only the lines that start inside ``[start, end)``, so processes can share a file by
    byte ranges and each read only its part.
    """

    def __init__(self, path: str, encoding: str = AUTO, max_bytes: int = MAX_RECORD_BYTES):
        self.path, self.max_bytes, self.auto = path, max_bytes, encoding == AUTO
        self._stream = None  # a pipe's handle, its first bytes already read for detection
        if self.auto and not splittable(path) and not path.endswith(COMPRESSED):
            # a FIFO or /dev/stdin can be read once: detect from the stream that is then read on
            self._stream = io.BufferedReader(_Replay(read_sample_from(open_binary(path), path)))
            self.encoding = detect_encoding(self._stream.raw.sample, path)
        else:
            self.encoding = detect_encoding(read_sample(path), path) if self.auto else encoding
        self.switched: tuple[int | None, str] | None = None

    def _open(self):
        """The file from its start: the pipe's stream the first time, a new handle for a file."""
        stream, self._stream = self._stream, None
        return stream if stream is not None else open_binary(self.path)

    @property
    def splittable(self) -> bool:
        return byte_oriented(self.encoding) and splittable(self.path)

    def lines(self, start: int = 0, end: int | None = None) -> Iterator[Line]:
        if not byte_oriented(self.encoding):
            if start or end is not None:
                raise ValueError(f"{self.path}: {self.encoding} text cannot be read from a byte offset")
            yield from self._wide_lines()
            return
        fh = self._open()
        number = 1 if start == 0 else None
        limit = self.max_bytes + 1
        try:
            offset = self._seek_line(fh, start) if start else 0
            readline = fh.readline
            while end is None or offset < end:  # the hot loop: helpers are called on errors only
                try:
                    raw = readline(limit)
                except _CORRUPT as exc:
                    raise corrupt(self.path, exc, None if number is None else number - 1) from None
                if not raw:
                    break
                if len(raw) == limit and raw[-1] != 10:  # no newline within max_bytes + 1 bytes
                    raise DataError(f"a line longer than max_record_bytes, {mib(self.max_bytes)}; raise "
                                    "max_record_bytes if the file really holds such records", file=self.path,
                                    line=self.line_at(number, offset))
                try:
                    text = raw.decode(self.encoding)
                except UnicodeDecodeError:
                    text = self._decode(raw, number, offset)
                yield Line(number, offset, text)
                offset += len(raw)
                if number is not None:
                    number += 1
        finally:
            fh.close()

    def _seek_line(self, fh, start: int) -> int:
        """Position ``fh`` at the first line that starts at or after ``start``; that line's offset."""
        fh.seek(start - 1)
        offset = start - 1
        while True:  # the rest of the line that started before ``start``, however long, in pieces
            piece = fh.readline(1 << 16)
            offset += len(piece)
            if not piece or piece.endswith(b"\n"):
                return offset

    def _decode(self, raw: bytes, number: int | None, offset: int) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            if self.auto and self.encoding == "utf-8" and self.switched is None:
                self.encoding = guess_legacy(raw, self.path)
                self.switched = (self.line_at(number, offset), self.encoding)
                return self._decode(raw, number, offset)
            hint = "set the dataset's encoding" if not self.auto else "set the dataset's encoding (auto chose " \
                   f"{self.encoding})"
            raise DataError(f"not valid {self.encoding} text ({exc.reason} at byte {exc.start} of the line); {hint}",
                            file=self.path, line=self.line_at(number, offset)) from None

    def _wide_lines(self) -> Iterator[Line]:
        """UTF-16/32 text: decoded before it is cut into lines; offsets count characters."""
        with self._open() as raw:
            fh = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            offset, number = 0, 1
            limit = max(1, self.max_bytes // 2)
            while True:
                try:
                    text = fh.readline(limit + 1)
                except UnicodeDecodeError as exc:
                    raise DataError(f"not valid {self.encoding} text ({exc.reason}); set the dataset's encoding",
                                    file=self.path, line=number) from None
                except _CORRUPT as exc:
                    raise corrupt(self.path, exc, number - 1) from None
                if not text:
                    return
                if len(text) > limit and not text.endswith("\n"):
                    raise DataError(f"a line longer than max_record_bytes, {mib(self.max_bytes)}; raise "
                                    "max_record_bytes if the file really holds such records", file=self.path, line=number)
                yield Line(number, offset, text)
                offset += len(text)
                number += 1

    def line_at(self, number: int | None, offset: int) -> int:
        """``number``, or the line number of ``offset`` counted from the start (only on an error)."""
        if number is not None:
            return number
        count = 1
        with open_binary(self.path) as fh:
            remaining = offset
            while remaining > 0:
                chunk = fh.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                remaining -= len(chunk)
        return count


def read_document(path: str, encoding: str = AUTO, max_bytes: int = MAX_RECORD_BYTES) -> tuple[str, str]:
    """A whole file as one text and the encoding it was read with; longer than ``max_bytes`` is an error."""
    with open_binary(path) as fh:
        try:
            raw = fh.read(max_bytes + 1)
        except _CORRUPT as exc:
            raise corrupt(path, exc, None) from None
    if len(raw) > max_bytes:
        raise DataError(f"longer than max_record_bytes, {mib(max_bytes)}, for one document; raise max_record_bytes "
                        "or read it line by line (mode: line)", file=path)
    chosen = detect_encoding(raw[:SAMPLE_BYTES], path) if encoding == AUTO else encoding
    if encoding == AUTO and chosen == "utf-8" and not _is_utf8(raw):  # valid UTF-8 at first, not later on
        chosen = guess_legacy(raw, path)
    try:
        return raw.decode(chosen), chosen
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        hint = "set the dataset's encoding" + (f" (auto chose {chosen})" if encoding == AUTO else "")
        raise DataError(f"not valid {chosen} text ({exc.reason}); {hint}", file=path, line=line) from None
