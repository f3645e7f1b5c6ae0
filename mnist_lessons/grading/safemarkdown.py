"""markdown2html for nbgrader's feedback pages and formgrader: Markdown rendered with raw HTML shown as text (instructors).

nbgrader renders a notebook's markdown cells, and the comments on its cells,
with nbconvert's ``markdown2html`` filter, in templates of its own that never
clean the result (``HTMLExporter.sanitize_html`` cleans only the templates'
outputs and nbconvert's own markdown block, which nbgrader's override). A
learner's markdown could then carry a script into the instructor's
formgrader. ``nbgrader_config.py`` puts this filter in its place
(``c.HTMLExporter.filters``), for ``generate_feedback`` and the formgrader
alike: the same rendering, except that raw HTML (a tag, a comment) shows as
the text it is, links to ``javascript:`` and other harmful protocols lead
nowhere (mistune's own ``allow_harmful_protocols=False``), and a ``mermaid``
code block is shown as code (nbconvert would paste it into the page as it is).
The course's lessons hold no raw HTML, so they render as before.
"""

from html import escape

from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath


class TextOnlyRenderer(IPythonRenderer):
    """nbconvert's renderer with raw HTML escaped, whatever its ``escape`` (kept off, so entities stay entities)."""

    def block_html(self, html):
        return "<p>" + escape(html.strip(), quote=False) + "</p>\n"

    def inline_html(self, html):
        return escape(html, quote=False)

    def block_mermaidjs(self, code):
        return "<pre><code>" + escape(code, quote=False) + "</code></pre>\n"


@pass_context
def markdown2html(context, source):
    """Render ``source`` as HTMLExporter.markdown2html does (the cell's attachments, the notebook's folder), inertly."""
    cell = context.get("cell", {})
    renderer = TextOnlyRenderer(escape=False, allow_harmful_protocols=False,
                                attachments=cell.get("attachments", {}) if hasattr(cell, "get") else {},
                                path=context.get("resources", {}).get("metadata", {}).get("path", ""))
    return MarkdownWithMath(renderer=renderer).render(source)
