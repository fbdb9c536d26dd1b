"""Attachments (images and PDFs): what one is, its type told from its bytes, each API's
content-part form for it, and each API's documented size limits. No files, no HTTP here:
`byok_cli.attachments` reads and fetches them.

Content parts, as the APIs' references and the SDKs' types have them:

- OpenAI Chat Completions: ``{"type": "image_url", "image_url": {"url": "data:…;base64,…"}}``
  (``ChatCompletionContentPartImageParam``) and ``{"type": "file", "file": {"filename": …,
  "file_data": "data:application/pdf;base64,…"}}`` (the ``File`` part; Chat Completions
  takes PDFs only as files, and no file URL);
- Anthropic Messages: ``{"type": "image", "source": {"type": "base64", "media_type": …,
  "data": …}}`` and ``{"type": "document", "source": {"type": "base64", "media_type":
  "application/pdf", "data": …}}`` (``Base64ImageSourceParam``, ``Base64PDFSourceParam``).

The attachments come before the text of their turn, as Anthropic's vision guide advises.
"""

from __future__ import annotations

import base64
from typing import NamedTuple

from ..errors import ByokError, Code

MIB = 1024 * 1024

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PDF = "application/pdf"


class Attachment:
    """One image or PDF. (A plain class: a dataclass costs `run -a` milliseconds to make.)"""

    __slots__ = ("media_type", "data", "name", "_digest")

    def __init__(self, media_type: str, data: bytes, name: str = "attachment"):
        self.media_type = media_type  # one of IMAGE_TYPES or PDF, from the content
        self.data = data
        self.name = name              # the file's base name, or the URL's last part; "stdin"
        self._digest: str | None = None

    def __repr__(self) -> str:
        return f"Attachment({self.media_type!r}, <{len(self.data)} bytes>, {self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attachment) and (self.media_type, self.data, self.name) == (
            other.media_type, other.data, other.name)

    __hash__ = None  # type: ignore[assignment]

    @property
    def kind(self) -> str:
        return "pdf" if self.media_type == PDF else "image"

    @property
    def digest(self) -> str:
        if self._digest is None:
            import hashlib

            self._digest = hashlib.sha256(self.data).hexdigest()
        return self._digest

    @property
    def encoded_size(self) -> int:
        return 4 * ((len(self.data) + 2) // 3)

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"

    def describe(self) -> str:
        return f"{self.name} ({self.media_type}, {_size(len(self.data))})"


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.1f} KiB" if n >= 1024 \
        else f"{n} bytes"


# ---------------------------------------------------------------------------- type
def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its first bytes (never a name), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    # The header at the very start, as ISO 32000 and file(1) have it. Acrobat alone
    # accepted it anywhere in the first 1 KiB; other readers (the providers') take the
    # offsets in the file from its first byte, and an HTML page quoting "%PDF-" is no PDF.
    if data.startswith(b"%PDF-"):
        return PDF
    return None


# What other content is, to name it in the refusal (magic bytes -> a name).
_OTHERS = ((b"PK\x03\x04", "a ZIP archive (or an Office document)"), (b"\x1f\x8b", "gzip data"),
           (b"\x7fELF", "an ELF executable"), (b"BM", "a BMP image"),
           (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
           (b"\x00\x00\x01\x00", "an ICO image"), (b"OggS", "Ogg audio"),
           (b"ID3", "MP3 audio"), (b"fLaC", "FLAC audio"), (b"%!PS", "PostScript"),
           (b"{\\rtf", "an RTF document"), (b"\xd0\xcf\x11\xe0", "an old Office document"))


def what_it_is(data: bytes) -> str:
    """A name for content that is no attachment type, for the error."""
    if not data:
        return "an empty file"
    for magic, name in _OTHERS:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        brand = data[8:12].decode("ascii", "replace")
        return ("a HEIC/HEIF image" if brand in ("heic", "heix", "mif1", "msf1")
                else "an AVIF image" if brand.startswith("avi") else "an MP4/QuickTime file")
    head = data[:4096]
    late = head.find(b"%PDF-", 0, 1024)
    if late > 0:
        return (f"content with %PDF- at byte {late}, not at the start (a PDF's header "
                "starts the file: if it is one, re-save it with a PDF tool),")
    if head.lstrip().lower().startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "an SVG image (text; convert it to PNG)"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut at the 4 KiB mark
            return "text"
    return "binary data of unknown type (starting " + head[:4].hex(" ") + ")"


def complete(media_type: str, data: bytes) -> bool:
    """Whether ``data`` ends as a whole file of its type ends (a truncated download or copy
    does not: the API would refuse it, or read half a page)."""
    tail = data.rstrip(b"\x00\r\n \t")
    if media_type == "image/png":
        return tail.endswith(b"IEND\xaeB`\x82") and len(data) > 33
    if media_type == "image/jpeg":
        return data.rfind(b"\xff\xd9") > 2
    if media_type == "image/gif":
        return tail.endswith(b";") and len(data) > 13
    if media_type == "image/webp":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    if media_type == PDF:
        return b"%%EOF" in data[-2048:]
    return True


def dimensions(media_type: str, data: bytes) -> tuple[int, int] | None:
    """An image's (width, height) in pixels from its header, or None where it cannot tell."""
    try:
        if media_type == "image/png" and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if media_type == "image/gif":
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if media_type == "image/webp":
            return _webp_size(data)
        if media_type == "image/jpeg":
            return _jpeg_size(data)
    except (IndexError, ValueError):
        pass
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        return (int.from_bytes(data[24:27], "little") + 1,
                int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        return (int.from_bytes(data[26:28], "little") & 0x3FFF,
                int.from_bytes(data[28:30], "little") & 0x3FFF)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    for _ in range(1000):  # markers before the frame header; a hostile file is bounded
        if at + 9 > len(data) or data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                      0xCE, 0xCF):  # a start of frame: height, then width
            return (int.from_bytes(data[at + 7:at + 9], "big"),
                    int.from_bytes(data[at + 5:at + 7], "big"))
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return None


def identify(data: bytes, name: str) -> Attachment:
    """``data`` as an attachment, or a usage error naming what it is instead."""
    media_type = sniff(data)
    if media_type is None:
        raise ByokError(Code.USAGE, f"attachment {name}: {what_it_is(data)} is not an image "
                        "(PNG, JPEG, GIF, WebP) or a PDF; nothing was sent",
                        hint="byok tells the type from the content, not the name; put text "
                        "in the prompt (pipe it in) instead")
    if not complete(media_type, data):
        raise ByokError(Code.USAGE, f"attachment {name}: the {media_type} is truncated (it "
                        "does not end as such a file ends); nothing was sent",
                        hint="copy or download it again")
    return Attachment(media_type, data, name)


# ------------------------------------------------------------------------ limits
class Limits(NamedTuple):
    """One API's documented limits on what a request may carry (bytes as sent)."""

    image: int            # one image
    images: int           # images in one request
    image_total: int      # all images' bytes in one request (0: only `request` bounds them)
    pdf_total: int        # all PDFs' bytes in one request
    request: int          # the whole request
    measured: str         # "raw" or "base64": what the per-image limit counts
    source: str           # where the numbers are documented
    pixels: int = 0       # the longest side an image may have (0: the API scales any down)


LIMITS = {
    # platform.claude.com/docs/en/build-with-claude/vision ("General limits": 5 MB per
    # image through the API, which counts the base64 string; up to 100 images per
    # request; the request payload at most 32 MB) and …/pdf-support (32 MB per request,
    # 100 pages); images of more than 8000 px a side are refused (2000 px when a request
    # has more than 20 images).
    "anthropic": Limits(image=5 * MIB, images=100, image_total=0, pdf_total=32 * MIB,
                        request=32 * MIB, measured="base64",
                        source="Anthropic's vision and PDF support pages", pixels=8000),
    # developers.openai.com/api/docs/guides/images-vision ("Image input requirements": up
    # to 20 MB per image, 500 images and 50 MB of image bytes per request) and …/pdf-files
    # (up to 100 pages and 32 MB of file content per request).
    "openai": Limits(image=20 * MIB, images=500, image_total=50 * MIB, pdf_total=32 * MIB,
                     request=50 * MIB + 32 * MIB, measured="raw",
                     source="OpenAI's image-input and file-input guides"),
}
# The most any one attachment can be under any API: files larger are refused before reading.
MAX_ATTACHMENT = max(max(lim.image, lim.pdf_total) for lim in LIMITS.values())


def check_limits(api: str, provider: str, attachments: list[Attachment]) -> None:
    """Refuse (exit 24, nothing sent) attachments past ``api``'s documented limits."""
    limits = LIMITS.get(api)
    if limits is None or not attachments:
        return
    images = [a for a in attachments if a.kind == "image"]
    pdfs = [a for a in attachments if a.kind == "pdf"]

    def refuse(what: str) -> ByokError:
        return ByokError(Code.ATTACHMENT_REFUSED, f"{what}; nothing was sent to {provider}",
                         hint=f"the limits are {limits.source}'; make it smaller or send "
                         "fewer", provider=provider)

    for a in images:
        measured = a.encoded_size if limits.measured == "base64" else len(a.data)
        if measured > limits.image:
            # the file's own size once: a second figure only when it is another one
            encoded = limits.measured == "base64"
            what = a.describe() if encoded else f"{a.name} ({a.media_type})"
            how = " once base64-encoded" if encoded else ""
            raise refuse(f"attachment {what} is {_size(measured)}{how}, over the "
                         f"{api} API's limit of {_size(limits.image)} per image")
    if limits.pixels:
        side = limits.pixels if len(images) <= 20 else 2000
        for a in images:
            size = dimensions(a.media_type, a.data)
            if size and max(size) > side:
                many = " in a request of more than 20 images" if side != limits.pixels else ""
                raise refuse(f"attachment {a.name} is {size[0]}x{size[1]} px, over the {api} "
                             f"API's {side} px a side{many}")
    if len(images) > limits.images:
        raise refuse(f"{len(images)} images are more than the {api} API's {limits.images} "
                     "per request")
    if limits.image_total and sum(len(a.data) for a in images) > limits.image_total:
        raise refuse(f"the images together are over the {api} API's "
                     f"{_size(limits.image_total)} of images per request")
    if sum(len(a.data) for a in pdfs) > limits.pdf_total:
        raise refuse(f"the PDFs together are over the {api} API's "
                     f"{_size(limits.pdf_total)} of PDFs per request")
    if sum(a.encoded_size for a in attachments) > limits.request:
        raise refuse(f"the attachments together are over the {api} API's "
                     f"{_size(limits.request)} per request, once base64-encoded")


# ------------------------------------------------------------------- content parts
def openai_content(text: str, attachments: list[Attachment]) -> str | list[dict]:
    """A user turn's content for Chat Completions: the text alone when there is nothing
    attached (as byok always sent it), else the parts."""
    if not attachments:
        return text
    parts: list[dict] = []
    for a in attachments:
        if a.kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": a.data_url()}})
        else:
            parts.append({"type": "file", "file": {"filename": a.name,
                                                   "file_data": a.data_url()}})
    if text:
        parts.append({"type": "text", "text": text})
    return parts


def anthropic_content(text: str, attachments: list[Attachment]) -> str | list[dict]:
    """A user turn's content for Messages: the text alone, or image/document blocks and it."""
    if not attachments:
        return text
    blocks: list[dict] = [{"type": "image" if a.kind == "image" else "document",
                           "source": {"type": "base64", "media_type": a.media_type,
                                      "data": a.base64()}} for a in attachments]
    if text:
        blocks.append({"type": "text", "text": text})
    return blocks


# A worst case, in input tokens, for budgets (routing/budget.py): every documented image
# formula stays below this per image (Anthropic: width × height / 750, images past 1568 px
# scaled down, about 1,600 tokens; OpenAI's tiles or patches: under 2,000 before a model's
# multiplier, at most about 4,000 after it). A PDF's pages are text and an image each
# (Anthropic: 1,500 to 3,000 tokens a page, up to 600 pages), so a PDF is held at the
# model's whole context window.
IMAGE_TOKENS_WORST = 6_000
PDF_TOKENS_WORST = 10**9  # capped at the model's context window by the estimate


def worst_tokens(attachments: list[Attachment]) -> int:
    return sum(IMAGE_TOKENS_WORST if a.kind == "image" else PDF_TOKENS_WORST
               for a in attachments)
