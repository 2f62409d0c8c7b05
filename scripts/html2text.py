#!/usr/bin/env python3
"""Converts one DocBook-generated HTML page (Debian's FAQ, Reference, New Maintainers' Guide) to
plain UTF-8 text, deterministically (Python's stdlib html.parser only).

- navigation (navheader/navfooter), tables of contents and lists of tables are dropped, and so
  are <head>, images and scripts;
- headings get their own line with a blank line around them; paragraphs are separated by one
  blank line, and the text inside a paragraph is on one line (whitespace collapsed);
- list items are lines starting with "- " (or "1. " in ordered lists); definition terms are
  lines of their own, followed by their definition;
- <pre> blocks (commands, program listings) are kept verbatim;
- data tables: one line per row, cells joined with " | "; the tables DocBook uses to lay out
  notes, tips and warnings become a heading line ("Astuce") and the note's paragraphs.

    scripts/html2text.py IN.html OUT.txt
"""
import re
import sys
import unicodedata
from html.parser import HTMLParser

SKIP_DIV_CLASSES = {"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures",
                    "list-of-examples", "list-of-equations"}
ADMONITIONS = {"note", "tip", "warning", "caution", "important"}
BLOCKS = {"p", "div", "blockquote", "address", "center", "hr", "table", "caption", "ul", "ol", "dl",
          "body", "html"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
VOID = {"br", "img", "hr", "meta", "link", "col", "input", "area", "base", "wbr"}


class Converter(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs = []      # finished blocks (lists of lines)
        self.lines = []           # lines of the current block
        self.line = ""            # current line
        self.space = False        # a space is pending before the next word
        self.stack = []           # open elements: (tag, info)
        self.skip = 0             # depth inside skipped content
        self.pre = 0
        self.admonition = 0       # depth inside note/tip/... tables
        self.cells = None         # current data-table row: list of cell texts, or None
        self.cell = None          # text of the current cell
        self.lists = []           # [kind, counter] for each open ul/ol

    # ---- output helpers
    def text(self, data):
        if self.cell is not None:
            self.cell.append(data)
            return
        if self.pre:
            parts = data.split("\n")
            for k, part in enumerate(parts):
                if k:
                    self.newline(keep_empty=True)
                self.line += part
            return
        if not data:
            return
        if data[0].isspace():
            self.space = True
        words = data.split()
        for k, word in enumerate(words):
            if (k or self.space) and self.line and not self.line.endswith(" "):
                self.line += " "
            self.line += word
            self.space = False
        if data[-1].isspace() and words:
            self.space = True

    def newline(self, keep_empty=False):
        line = self.line if self.pre else self.line.strip()
        if line or keep_empty:
            self.lines.append(line.rstrip())
        self.line = ""
        self.space = False

    def parbreak(self):
        self.newline()
        while self.lines and not self.lines[-1].strip():
            self.lines.pop()
        while self.lines and not self.lines[0].strip():
            self.lines.pop(0)
        if self.lines:
            self.paragraphs.append(self.lines)
        self.lines = []

    # ---- parser callbacks
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        if tag in VOID:
            if self.skip:
                return
            if tag == "br":
                if self.cell is not None:
                    self.cell.append(" ")
                else:
                    self.newline()
            elif tag == "hr":
                self.parbreak()
            return
        info = {"skip": False, "admonition": False}
        self.stack.append((tag, info))
        if self.skip:
            self.skip += 1
            info["skip"] = True
            return
        if tag in ("head", "script", "style", "title") or (tag == "div" and classes & SKIP_DIV_CLASSES):
            self.skip = 1
            info["skip"] = True
            return
        if tag == "div" and classes & ADMONITIONS:
            self.parbreak()
            self.admonition += 1
            info["admonition"] = True
            return
        if self.cell is not None:  # block elements inside a data-table cell: a space
            self.cell.append(" ")
            return
        if tag == "table" and self.admonition:
            return
        if tag in ("tr", "td", "th") and self.admonition:
            self.parbreak()
            return
        if tag == "tr":
            self.newline()
            self.cells = []
            return
        if tag in ("td", "th"):
            if self.cells is None:
                self.cells = []
            self.cell = []
            return
        if tag == "pre":
            self.parbreak()
            self.pre += 1
            return
        if tag in HEADINGS:
            self.parbreak()
            return
        if tag in ("ul", "ol"):
            if not self.lists:
                self.parbreak()
            else:
                self.newline()
            self.lists.append([tag, 0])
            return
        if tag == "li":
            self.newline()
            if self.lists:
                self.lists[-1][1] += 1
                kind, n = self.lists[-1]
                self.line = f"{n}. " if kind == "ol" else "- "
            else:
                self.line = "- "
            info["li_fresh"] = True
            return
        if tag in ("dt", "dd"):
            if tag == "dt" and not self.lists:
                self.parbreak()
            else:
                self.newline()
            return
        if tag in BLOCKS:
            if self.lists or self.inside("dd"):
                # a paragraph inside a list item or definition: a new line, not a new block,
                # except for the first one, which continues the item's line.
                if self.line.strip() and self.line.strip() not in ("-",) and not re.fullmatch(r"\d+\.", self.line.strip()):
                    self.newline()
            else:
                self.parbreak()

    def inside(self, tag):
        return any(t == tag for t, _ in self.stack)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        # pop to the matching open element (tolerates unclosed tags)
        index = next((k for k in range(len(self.stack) - 1, -1, -1) if self.stack[k][0] == tag), None)
        if index is None:
            return
        for open_tag, info in reversed(self.stack[index:]):
            self.close_element(open_tag, info)
        del self.stack[index:]

    def close_element(self, tag, info):
        if info["skip"]:
            self.skip -= 1
            return
        if info["admonition"]:
            self.parbreak()
            self.admonition -= 1
            return
        if self.cell is not None and tag not in ("td", "th"):
            self.cell.append(" ")
            return
        if tag in ("td", "th") and self.cells is not None and self.cell is not None:
            self.cells.append(" ".join("".join(self.cell).split()))
            self.cell = None
            return
        if tag == "tr" and self.cells is not None:
            cells = self.cells
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                self.newline()
                self.lines.append(" | ".join(cells))
            self.cells = None
            return
        if tag in ("tr", "td", "th") and self.admonition:
            self.parbreak()
            return
        if tag == "table" and not self.admonition:
            self.parbreak()
            return
        if tag == "pre":
            self.newline()
            self.pre -= 1
            self.parbreak()
            return
        if tag in HEADINGS:
            self.parbreak()
            return
        if tag in ("ul", "ol"):
            self.newline()
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self.parbreak()
            return
        if tag in ("li", "dt", "dd"):
            self.newline()
            return
        if tag in BLOCKS:
            if self.lists or self.inside("dd"):
                self.newline()
            else:
                self.parbreak()

    def handle_data(self, data):
        if self.skip:
            return
        self.text(data)

    def result(self):
        self.parbreak()
        out = []
        for block in self.paragraphs:
            text = "\n".join(block)
            out.append(text)
        text = "\n\n".join(out) + "\n"
        text = unicodedata.normalize("NFC", text.replace("\u00a0", " "))
        return text


def convert(html):
    parser = Converter()
    parser.feed(html)
    parser.close()
    return parser.result()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        html = f.read()
    text = convert(html)
    with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
