#!/usr/bin/env python3
"""Writes the PDF the end-to-end test uploads through the page: three pages about a mountain
hut, the fact the e2e question asks for only on page 3 (so the citation must open page 3).
Standard library only; Helvetica with WinAnsi encoding (French accents).

Usage: e2e-pdf.py OUT.pdf
"""
import sys

PAGES = [
    ["Le refuge du lac Vert", "",
     "Le refuge du lac Vert se trouve à 2 180 mètres d'altitude, au-dessus de la vallée.",
     "On y monte en trois heures depuis le parking du hameau des Granges.",
     "Le sentier est balisé en jaune et ne présente aucune difficulté technique."],
    ["Équipement et réservation", "",
     "Le refuge compte trente-deux places réparties en quatre dortoirs.",
     "Les couvertures sont fournies ; un drap de sac est obligatoire.",
     "La réservation se fait par téléphone, au moins deux jours à l'avance."],
    ["L'équipe du refuge", "",
     "Le gardien du refuge du lac Vert s'appelle Aurélien Marchetti.",
     "Il garde le refuge depuis 2011 et prépare chaque soir une polenta aux cèpes.",
     "Le refuge est gardé du 15 juin au 20 septembre."],
]


def text_stream(lines):
    out = ["BT", "/F1 14 Tf", "72 770 Td", "18 TL"]
    for line in lines:
        escaped = line.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        out.append("(" + escaped.decode("latin-1") + ") Tj T*")
    out.append("ET")
    return "\n".join(out).encode("latin-1")


def write(path):
    objects = []   # bytes of objects 1..n

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1 + 2 * len(PAGES)   # after each page's content and page object
    page_ids = []
    for lines in PAGES:
        stream = text_stream(lines)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)

    data = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(data)
    data += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        data += b"%010d 00000 n \n" % offset
    data += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    write(sys.argv[1])
