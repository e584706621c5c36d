"""Network HTML to the text a reader sees: hostile markup is inert, Mastodon's shows as Mastodon
shows it, entities are decoded exactly once."""

import pytest

from app.ingest.htmltext import html_to_text

# (name, HTML as a network might send it, the exact text Tribune must store)
HOSTILE = [
    ("script", "Hi<script>alert(1)</script> there", "Hi there"),
    ("script in a paragraph", "<p>a<script>document.cookie</script>b</p>", "ab"),
    ("unclosed script", "before<script>alert(1)", "before"),
    ("style", "<style>body{display:none}</style>visible", "visible"),
    ("img onerror", '<img src=x onerror="alert(1)">caption', "caption"),
    ("svg onload", "<svg onload=alert(1)><text>drawn</text></svg>after", "after"),
    ("svg script", "<svg><script>alert(1)</script></svg>ok", "ok"),
    ("math", "<math><mtext><script>alert(1)</script></mtext></math>ok", "ok"),
    ("javascript link", '<a href="javascript:alert(1)">click me</a>', "click me"),
    ("data link", '<a href="data:text/html,<script>alert(1)</script>">x</a>', "x"),
    ("iframe", '<iframe src="https://evil.example"><p>fallback</p></iframe>end', "end"),
    ("iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>end', "end"),
    ("object", '<object data="x.swf"><param name=a value=b>inside</object>end', "end"),
    ("noscript", "<noscript><img src=x onerror=alert(1)></noscript>end", "end"),
    ("template", "<template><script>alert(1)</script>t</template>end", "end"),
    (
        "form",
        '<form action="https://evil.example"><input value="x"><button>Go</button></form>',
        "Go",
    ),
    ("event handler", '<p onclick="alert(1)" style="color:red">styled</p>', "styled"),
    ("comment", "a<!-- <script>alert(1)</script> -->b", "ab"),
    # Outside SVG and MathML, "<![CDATA[" opens a bogus comment that ends at the first ">", so a
    # browser shows the rest as text; the script tag was eaten by the comment and runs nowhere.
    ("cdata", "a<![CDATA[<script>alert(1)</script>]]>b", "aalert(1)]]>b"),
    ("encoded script", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>"),
    ("numeric entities", "&#60;img src=x onerror=alert(1)&#x3E;", "<img src=x onerror=alert(1)>"),
    ("double encoded", "&amp;lt;script&amp;gt;", "&lt;script&gt;"),
    ("ampersand", "Fees &amp; charges &gt; 3%", "Fees & charges > 3%"),
    ("bare ampersand", "AT&T & co", "AT&T & co"),
    ("no-break spaces", "a&nbsp;&nbsp;b", "a\u00a0\u00a0b"),
    ("text in a textarea", "<textarea><b>x</b></textarea>", "<b>x</b>"),
    ("misnested", "<p><b>bold <i>both</b> italic</i></p>", "bold both italic"),
    ("unclosed", "<p>one<p>two<div>three", "one\n\ntwo\n\nthree"),
    ("stray end tags", "</p></span></a>text</li>", "text"),
    ("broken tag", "a <b class='x' b", "a"),
    ("lone angle bracket", "1 < 2 > 0", "1 < 2 > 0"),
    ("tag in an attribute", '<a title="<script>alert(1)</script>">t</a>', "t"),
    ("bidi override", "Pay at <b>\u202egnp.exe\u202c</b> now", "Pay at gnp.exe now"),
    ("bidi as entities", "Pay at &#x202E;gnp.exe&#x202C; now&#8203;!", "Pay at gnp.exe now!"),
    ("isolates", "<span>\u2066Hello\u2069</span>", "Hello"),
    ("zero-width joiner kept", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "👨\u200d👩\u200d👧"),
    (
        "fake invisible class",
        '<a class="invisible">shown</a> <p class="invisible">too</p>',
        "shown\n\ntoo",
    ),
    ("empty", "", ""),
    ("only markup", "<p></p><br><span></span>", ""),
]


@pytest.mark.parametrize(("html", "text"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_html_becomes_inert_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_decoding_happens_exactly_once() -> None:
    # What the author typed as "&lt;" is "&amp;lt;" in the HTML: it must stay "&lt;".
    assert html_to_text("&amp;lt;") == "&lt;"
    assert html_to_text(html_to_text("&amp;lt;b&amp;gt;")) == "<b>"


# A status as Mastodon 4 serialises it: a mention in an h-card, a hashtag, a long link whose
# scheme and tail are in invisible spans, two paragraphs and a line break.
MASTODON = (
    '<p><span class="h-card" translate="no"><a href="https://banque.social/@AuroraBank" '
    'class="u-url mention">@<span>AuroraBank</span></a></span> Is the fee schedule at '
    '<a href="https://aurora.example/fr/tarifs/particuliers/2027/grille-complete" '
    'target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://'
    '</span><span class="ellipsis">aurora.example/fr/tarifs/parti</span><span class="invisible">'
    "culiers/2027/grille-complete</span></a> final?</p>"
    '<p>Merci ! <a href="https://piaille.fr/tags/AskAurora" class="mention hashtag" '
    'rel="tag">#<span>AskAurora</span></a><br>— Inès</p>'
)


def test_mastodon_content_reads_as_mastodon_shows_it() -> None:
    assert html_to_text(MASTODON) == (
        "@AuroraBank Is the fee schedule at aurora.example/fr/tarifs/parti… final?\n"
        "\n"
        "Merci ! #AskAurora\n"
        "— Inès"
    )


def test_a_short_link_has_no_ellipsis() -> None:
    short = (
        '<p><a href="https://www.aurora.example/faq" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://www.</span><span class="">aurora.example/faq</span>'
        '<span class="invisible"></span></a></p>'
    )
    assert html_to_text(short) == "aurora.example/faq"


def test_whitespace_and_blocks_read_as_a_browser_shows_them() -> None:
    # Mastodon's docs write a link over several lines: a newline in markup is only a space.
    indented = (
        '<a href="https://example.com/page/that/is/very/long">\n'
        '  <span class="invisible">https://</span>\n'
        '  <span class="ellipsis">example.com/page</span>\n'
        '  <span class="invisible">/that/is/very/long</span>\n'
        "</a>"
    )
    assert html_to_text(indented) == "example.com/page…"
    assert html_to_text("<p>one</p>\n\n<p>  two   words </p>") == "one\n\ntwo words"
    assert html_to_text("a<br>b<br><br>c<br>") == "a\nb\n\nc"
    assert html_to_text("<p>a<br></p><p>b</p>") == "a\n\nb"
    assert html_to_text("<blockquote><p>quoted</p></blockquote><p>reply</p>") == "quoted\n\nreply"
    assert html_to_text("<pre>  code\n    indented\n</pre><p>after</p>") == (
        "  code\n    indented\n\nafter"
    )
    assert html_to_text(
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>"
    ) == ("• one\n• two\n\n1. first\n2. second")
