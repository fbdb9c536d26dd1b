"""Small, well-formed images and PDFs for the attachment tests (`-a`), made from their
formats' own structure (no imaging library): tests/data/attachments holds them as files,
written by `python tests/support/media.py`."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path


def png(width: int = 8, height: int = 6) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A 1x1 baseline-compatible JPEG (arithmetic coded), the smallest well-formed one.
JPEG = bytes.fromhex(
    "ffd8ffdb004300030202020202030202020303030304060404040404080606050609080a0a090809"
    "090a0c0f0c0a0b0e0b09090d110d0e0f101011100a0c12131210130f101010ffc9000b0800010001"
    "01011100ffcc000600101005ffda0008010100003f00d2cf20ffd9")
# A 1x1 GIF89a.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
       b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
_VP8L = b"\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"  # a 1x1 lossless image
WEBP = (b"RIFF" + struct.pack("<I", 4 + 8 + len(_VP8L)) + b"WEBP" + b"VP8L"
        + struct.pack("<I", len(_VP8L)) + _VP8L)


def pdf(text: str = "Hello from byok") -> bytes:
    """A one-page PDF with a line of text, its cross-reference table exact."""
    stream = f"BT /F1 12 Tf 20 40 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 80] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
               + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return out


FILES = {"small.png": png(), "small.jpg": JPEG, "small.gif": GIF, "small.webp": WEBP,
         "small.pdf": pdf()}
DIR = Path(__file__).resolve().parent.parent / "data" / "attachments"

if __name__ == "__main__":
    DIR.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.items():
        (DIR / name).write_bytes(data)
    sys.stdout.write(f"wrote {len(FILES)} files to {DIR}\n")
