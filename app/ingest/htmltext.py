"""HTML a network sends (a Mastodon status's ``content``) turned into the plain text Tribune shows.

Tribune never renders a network's HTML: post text is plain text everywhere (escaped by Jinja,
set with ``textContent``). So the HTML is sanitised by ammonia (through nh3), which parses it as
a browser would and keeps only the structure that shapes the text; the standard library's parser
then walks that small, well-formed output and writes what a reader of the post sees.
"""

from html.parser import HTMLParser
from typing import Final

import nh3

from app.ingest.xpayload import clean_text

# Elements that shape the text: line breaks, blocks (a blank line between them), list items (a
# line each, with the bullet or number a browser shows), and spans, which Mastodon uses to hide
# parts of long links. Every other element is unwrapped: its text stays, its markup and
# attributes go (so a link shows as its text, wherever it points).
_LINE_BREAK: Final = "br"
_BLOCKS: Final = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LIST_ITEM: Final = "li"
_KEPT: Final = {_LINE_BREAK, "span", _LIST_ITEM, *_BLOCKS}
# Elements whose content is not text a reader sees (code, styles, embedded documents and
# graphics, fallbacks for browsers without scripts or frames): dropped with everything inside.
_DROPPED_WITH_CONTENT: Final = frozenset(
    {
        "script",
        "style",
        "template",
        "iframe",
        "object",
        "noscript",
        "noembed",
        "noframes",
        "svg",
        "math",
    }
)
# Mastodon shortens long links visually: "invisible" spans hold what clients hide (the scheme,
# the tail of the URL) and an "ellipsis" span holds the part shown, followed by "…" that the
# client adds (Mastodon's docs, client guidelines, "Link shortening"). Only these classes survive.
_INVISIBLE: Final = "invisible"
_ELLIPSIS: Final = "ellipsis"
_ELLIPSIS_MARK: Final = "…"

_SANITISER: Final = nh3.Cleaner(
    tags=_KEPT,
    clean_content_tags=_DROPPED_WITH_CONTENT,
    attributes={},
    allowed_classes={"span": {_INVISIBLE, _ELLIPSIS}},
    # No attribute survives, so no URL does; and should one ever be allowed, no scheme is.
    url_schemes=set(),
    strip_comments=True,
    link_rel=None,
)

# HTML's whitespace (not Unicode's: a no-break space is text). Outside <pre> a run of it shows
# as one space, as in a browser; Tribune displays newlines, so a newline in the markup must not
# become a line break.
_HTML_SPACE: Final = str.maketrans(dict.fromkeys("\t\n\f\r", " "))


class _TextWriter(HTMLParser):
    """Writes sanitised HTML as text. Entities are decoded here, once (convert_charrefs)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        # Line breaks owed before the next text: paid only between two pieces of text, so the
        # result never starts or ends with blank lines and blocks collapse as in a browser.
        self._breaks = 0
        self._space = False
        self._spans: list[str] = []
        self._hidden = 0
        self._pre = 0
        # One entry per open list: the number of its last item, or None for a bulleted list.
        self._lists: list[int | None] = []

    def text(self) -> str:
        self.close()
        return "".join(self._parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == _LINE_BREAK:
            self._break(self._breaks + 1)
        elif tag in _BLOCKS:
            self._break(max(self._breaks, 2))
            self._pre += tag == "pre"
            if tag in {"ul", "ol"}:
                self._lists.append(0 if tag == "ol" else None)
        elif tag == _LIST_ITEM:
            self._break(max(self._breaks, 1))
            self._write(self._marker())
        elif tag == "span":
            classes = (dict(attrs).get("class") or "").split()
            kind = next((name for name in (_INVISIBLE, _ELLIPSIS) if name in classes), "")
            self._spans.append(kind)
            self._hidden += kind == _INVISIBLE

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            if tag == "pre" and self._parts:
                # The newline that ends preformatted text is not a line of its own.
                self._parts[-1] = self._parts[-1].rstrip("\n")
            self._pre -= tag == "pre"
            if tag in {"ul", "ol"} and self._lists:
                self._lists.pop()
            self._break(max(self._breaks, 2))
        elif tag == _LIST_ITEM:
            self._break(max(self._breaks, 1))
        elif tag == "span" and self._spans:
            kind = self._spans.pop()
            if kind == _INVISIBLE:
                self._hidden -= 1
            elif kind == _ELLIPSIS and not self._hidden:
                self._write(_ELLIPSIS_MARK)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            self._write(data)
            return
        spaced = data.translate(_HTML_SPACE)
        words = [word for word in spaced.split(" ") if word]
        if spaced.startswith(" "):
            self._space = True
        if words:
            self._write(" ".join(words))
            self._space = spaced.endswith(" ")

    def _marker(self) -> str:
        if not self._lists or self._lists[-1] is None:
            return "• "
        self._lists[-1] += 1
        return f"{self._lists[-1]}. "

    def _break(self, breaks: int) -> None:
        # A space before a line break is not shown, nor one at the start of a line.
        self._breaks = breaks
        self._space = False

    def _write(self, text: str) -> None:
        if self._parts:
            if self._breaks:
                self._parts.append("\n" * self._breaks)
            elif self._space:
                self._parts.append(" ")
        self._breaks = 0
        self._space = False
        self._parts.append(text)


def html_to_text(html: str) -> str:
    """The text a reader sees in ``html``, sanitised by ammonia and written as plain text.

    ``<br>`` is a newline, blocks are separated by a blank line, links show their text, the
    parts of a link Mastodon hides stay hidden, entities are decoded exactly once, and
    direction and width tricks are removed (``clean_text``). Never render the result as HTML.
    """
    writer = _TextWriter()
    writer.feed(_SANITISER.clean(html))
    return clean_text(writer.text())
