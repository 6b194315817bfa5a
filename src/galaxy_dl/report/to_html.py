"""The report as one self-contained HTML page: figures as PNG data URIs, inline CSS, no script, no fonts or
anything else fetched; one column that fits a phone, and print rules that keep figures whole."""

import base64
import html

VARIES = ' class="varies"'  # a value that differs from run to run (date, wall time)

CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --band: #f6f8fa; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
header h1 { margin: .5rem 0 0; font-size: 1.6rem; }
header p { margin: .25rem 0 1rem; color: var(--muted); overflow-wrap: anywhere; }
nav { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; background: var(--band); }
nav ol { margin: 0; padding-left: 1.25rem; columns: 2 12rem; }
a { color: var(--accent); }
section { margin-top: 2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid var(--line); padding-bottom: .25rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0 1rem; }
dt { font-weight: 600; color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.varies { font-style: italic; }
.table { overflow-x: auto; margin: .5rem 0 1rem; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; min-width: 100%; }
caption { text-align: left; padding: .4rem .6rem; font-weight: 600; color: var(--muted); }
th, td { padding: .3rem .6rem; border-top: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--band); }
figure { margin: 1rem 0; }
img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .35rem; }
.note { border-left: 4px solid var(--accent); padding: .25rem .75rem; background: var(--band); }
@media (max-width: 40rem) {
  body { font-size: 14px; }
  main { padding: .5rem .6rem 2rem; }
  dl { grid-template-columns: 1fr; }
  dt { margin-top: .4rem; }
  nav ol { columns: 1; }
}
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  section { break-before: auto; }
  h2 { break-after: avoid; }
  figure, .table, dl { break-inside: avoid; }
  .table { overflow: visible; border: none; }
  th, td { white-space: normal; }
  img { border: none; }
}
"""


def render(doc) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}: {e(doc.subtitle)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<header><h1>{e(doc.title)}</h1><p>{e(doc.subtitle)}</p></header>",
        '<nav aria-label="Sections"><ol>',
    ]
    out += [f'<li><a href="#{section.key}">{e(section.title)}</a></li>' for section in doc.sections]
    out.append("</ol></nav>")
    for section in doc.sections:
        out.append(f'<section id="{section.key}"><h2>{e(section.title)}</h2>')
        out += [_block(block) for block in section.blocks]
        out.append("</section>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _block(block) -> str:
    from galaxy_dl.report.document import Facts, Figure, Note, Table

    e = html.escape
    if isinstance(block, Facts):
        items = [
            f"<dt>{e(label)}</dt><dd{VARIES if label in block.varies else ''}>{e(value)}</dd>"
            for label, value in block.rows
        ]
        return "<dl>" + "".join(items) + "</dl>"
    if isinstance(block, Table):
        frame = block.frame
        head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False)
        )
        caption = f"<caption>{e(block.caption)}</caption>" if block.caption else ""
        return f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if isinstance(block, Figure):
        data = base64.b64encode(block.png()).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{e(block.alt)}">'
            f"<figcaption>{e(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Note):
        return f'<p class="note">{e(block.text)}</p>'
    raise TypeError(f"not a report block: {type(block).__name__}")
