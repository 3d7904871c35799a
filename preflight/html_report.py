"""The HTML report: one self-contained file a person opens in a browser, no server, no network.

A row per file: preview (sampled frames with the pose skeleton, embedded as ``data:`` URIs), path,
verdict, the media line and the findings; with ``fix`` results also the output, the actions and the
re-check's verdict. Rows sort by clicking a column header and filter by verdict buttons and a search
box (inline JavaScript). Every path and message is HTML-escaped, and its control characters and
undecodable bytes spelt out (``\\n``, ``\\x1b``, ``\\xff``: :func:`preflight.errors.printable`) so a name
shows as the one it is and the page encodes as UTF-8; a Content-Security-Policy forbids
anything but the inline style, the inline script and ``data:`` images, so a report opened from a
shared folder cannot fetch or run anything else.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
from collections.abc import Mapping
from typing import Any, TextIO

from .errors import printable
from .models import Finding, Item, Report, Severity, Skipped, describe_skipped
from .report import FORMATS, describe_media

__all__ = ["render_html", "write_html"]

log = logging.getLogger("preflight")

_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_VERDICT_RANK = {"fail": 0, "fixable": 1, "pass": 2}

_CSS = """
:root{--bg:#fafafa;--fg:#1d1d1f;--mute:#6e6e73;--line:#dcdce0;--pass:#1f8a3b;--fixable:#b26a00;--fail:#c62828;
--info:#0b6bcb}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}header{padding:16px 24px;background:#fff;border-bottom:1px solid var(--line);
position:sticky;top:0;z-index:2}h1{font-size:20px;margin:0 0 4px}.meta{color:var(--mute)}
.bar{display:flex;gap:8px;align-items:center;margin-top:10px;flex-wrap:wrap}
.bar button{border:1px solid var(--line);background:#fff;border-radius:16px;padding:4px 12px;cursor:pointer;
font:inherit}
.bar button.on{background:var(--fg);color:#fff;border-color:var(--fg)}
.bar input{border:1px solid var(--line);border-radius:6px;padding:5px 8px;font:inherit;min-width:260px}
.count{color:var(--mute);margin-left:auto}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;vertical-align:top;padding:8px 10px;
border-bottom:1px solid var(--line)}th{background:#f2f2f4;position:sticky;top:var(--head,0);cursor:pointer;
user-select:none;white-space:nowrap}th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.path{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all;min-width:180px;max-width:320px}
td.media{color:var(--mute);max-width:220px}
img.sheet{max-width:340px;max-height:170px;border-radius:4px;cursor:zoom-in;display:block}
img.sheet.big{max-width:min(1300px,90vw);max-height:none;cursor:zoom-out}
.nopreview{color:var(--mute);font-style:italic}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;color:#fff;font-weight:600;font-size:12px;
text-transform:uppercase}.badge.pass{background:var(--pass)}.badge.fixable{background:var(--fixable)}
.badge.fail{background:var(--fail)}ul.findings{margin:0;padding:0;list-style:none}
ul.findings li{margin:0 0 4px}.sev{font-weight:600;font-size:12px;text-transform:uppercase;margin-right:4px}
.sev.error{color:var(--fail)}.sev.warning{color:var(--fixable)}.sev.info{color:var(--info)}
code{font-size:12px;background:#f2f2f4;border-radius:3px;padding:0 3px}.none{color:var(--mute)}
.actions{color:var(--mute);font-size:12px}
.posenote{display:inline-block;margin-top:3px;color:var(--fixable);font-size:12px;font-weight:600}
details.skipped{margin:16px 24px;color:var(--mute)}details.skipped ul{margin:6px 0;padding-left:18px}
details.skipped li{margin:0 0 3px}details.skipped summary{cursor:pointer}
"""

# Static: no data is ever interpolated into the script; it reads the rows' escaped data- attributes.
_JS = """
(function(){
  var table=document.getElementById('files');
  var rows=Array.prototype.slice.call(table.tBodies[0].rows);
  var verdict='all', text='';
  function apply(){
    var shown=0;
    rows.forEach(function(r){
      var ok=(verdict==='all'||r.getAttribute('data-verdict')===verdict||
              (verdict==='nopose'&&r.getAttribute('data-pose')==='not_checked'))&&
             (!text||r.getAttribute('data-search').indexOf(text)>=0);
      r.hidden=!ok; if(ok){shown++;}
    });
    document.getElementById('shown').textContent=String(shown);
  }
  document.querySelectorAll('button[data-filter]').forEach(function(b){
    b.addEventListener('click',function(){
      verdict=b.getAttribute('data-filter');
      document.querySelectorAll('button[data-filter]').forEach(function(x){x.classList.toggle('on',x===b);});
      apply();
    });
  });
  document.getElementById('search').addEventListener('input',function(e){
    text=e.target.value.toLowerCase(); apply();
  });
  document.querySelectorAll('th[data-sort]').forEach(function(th){
    th.addEventListener('click',function(){
      var col=th.cellIndex, numeric=th.getAttribute('data-sort')==='num';
      var dir=th.classList.contains('asc')?-1:1;
      document.querySelectorAll('th[data-sort]').forEach(function(x){x.classList.remove('asc','desc');});
      th.classList.add(dir===1?'asc':'desc');
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute('data-sort')||'', y=b.cells[col].getAttribute('data-sort')||'';
        if(numeric){return dir*(parseFloat(x)-parseFloat(y));}
        return dir*x.localeCompare(y);
      });
      var body=table.tBodies[0]; rows.forEach(function(r){body.appendChild(r);});
    });
  });
  document.querySelectorAll('img.sheet').forEach(function(img){
    img.addEventListener('click',function(){img.classList.toggle('big');});
  });
  var head=document.querySelector('header');
  document.documentElement.style.setProperty('--head',head.offsetHeight+'px');
  apply();
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(value: Any) -> str:
    return html.escape(printable(str(value)), quote=True)


def render_html(
    report: Report,
    *,
    previews: Mapping[str, str | None] | None = None,
    fixes: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "preflight report",
) -> str:
    """The report as one HTML document.

    ``previews`` maps an item's path to a ``data:image/...`` URI (see
    :func:`preflight.batch.preview.preview_data_uri`); ``fixes`` maps it to the keys ``fix`` adds
    (``output``, ``actions``, ``after`` as an Item or None, ``reason``, and ``reframe_preview``: a ``data:``
    URI of the frames before and after a ``--reframe`` crop) and adds an Output column.
    """
    previews = previews or {}
    s = report.summary
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head_cells = [
        ("Preview", None),
        ("File", "text"),
        ("Verdict", "num"),
        ("Media", "text"),
        ("Findings", "num"),
    ]
    if fixes is not None:
        head_cells.append(("Output", "num"))
    header_row = "".join(
        f'<th data-sort="{kind}">{_e(name)}</th>' if kind else f"<th>{_e(name)}</th>" for name, kind in head_cells
    )
    rows = "\n".join(
        _row(item, previews.get(item.path), None if fixes is None else fixes.get(item.path, {}))
        for item in report.items
    )
    filters = [("all", "all", len(report.items)), ("pass", "pass", s["pass"]), ("fixable", "fixable", s["fixable"]),
               ("fail", "fail", s["fail"])]  # fmt: skip
    if s["pose_not_checked"]:
        filters.append(("nopose", "pose not checked", s["pose_not_checked"]))
    buttons = "".join(
        f'<button type="button" data-filter="{key}"{" class=on" if key == "all" else ""}>'
        f"{_e(label)} <b>{n}</b></button>"
        for key, label, n in filters
    )
    notes = ""
    if s["pose_not_checked"]:
        notes += f" · <b>pose not checked on {s['pose_not_checked']}</b>"
    if report.skipped:
        notes += f" · {_e(describe_skipped(report.skipped))}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><header><h1>{_e(title)}</h1>
<div class="meta">profile <b>{_e(report.profile)}</b> · orientation <b>{_e(report.orientation)}</b>
{" · strict" if report.strict else ""} · {len(report.items)} file(s) · {s["pass"]} pass, {s["fixable"]} fixable,
{s["fail"]} fail{notes} · {_e(generated)}</div>
<div class="bar">{buttons}<input id="search" type="search" placeholder="filter by path or finding"
aria-label="filter by path or finding"><span class="count"><span id="shown">{len(report.items)}</span> shown</span>
</div></header>
<table id="files"><thead><tr>{header_row}</tr></thead>
<tbody>
{rows}
</tbody></table>
{_skipped_list(report.skipped)}
<script>{_JS}</script>
</body></html>
"""


def _skipped_list(skipped: tuple[Skipped, ...]) -> str:
    """What was not checked and why, folded away; files ``--glob`` left out are counted, not listed."""
    if not skipped:
        return ""
    entries = "".join(
        f"<li><code>{_e(s.reason)}</code> <span class=\"path\">{_e(s.path)}</span>"
        f"{' · ' + _e(s.detail) if s.detail else ''}</li>"
        for s in skipped
        if s.listed
    )
    return (f'<details class="skipped"><summary>{_e(describe_skipped(skipped))}: not checked</summary>'
            f"<ul>{entries}</ul></details>")  # fmt: skip


def _row(item: Item, preview: str | None, fix: Mapping[str, Any] | None) -> str:
    nopose = item.pose_checked is False
    words = [item.path, item.verdict, *(["pose not checked"] if nopose else [])]
    search = " ".join([*words, *(f"{f.code} {f.message}" for f in item.findings)]).lower()
    if preview and preview.startswith("data:image/"):
        picture = f'<img class="sheet" alt="frames of {_e(item.path)}" src="{_e(preview)}">'
    else:
        picture = '<span class="nopreview">no preview</span>'
    blocking = sum(1 for f in item.findings if f.severity is Severity.ERROR)
    cells = [
        f"<td>{picture}</td>",
        f'<td class="path" data-sort="{_e(item.path)}">{_e(item.path)}<br>'
        f'<span class="none">{_e(item.role)}</span></td>',
        f'<td data-sort="{_VERDICT_RANK.get(item.verdict, 0)}">{_badge(item.verdict)}'
        f'{"<br><span class=posenote>pose not checked</span>" if nopose else ""}</td>',
        f'<td class="media" data-sort="{_e(describe_media(item.media))}">{_e(describe_media(item.media)) or "—"}</td>',
        f'<td data-sort="{blocking * 1000 + len(item.findings)}">{_findings(item.findings)}</td>',
    ]
    if fix is not None:
        cells.append(_fix_cell(fix))
    return (
        f'<tr data-verdict="{_e(item.verdict)}" data-role="{_e(item.role)}"'
        f'{" data-pose=not_checked" if nopose else ""} data-search="{_e(search)}">'
        + "".join(cells)
        + "</tr>"
    )


def _badge(verdict: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(verdict)}</span>'


def _findings(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return '<span class="none">none</span>'
    ordered = sorted(findings, key=lambda f: _SEVERITY_RANK[f.severity])
    items = "".join(
        f'<li><span class="sev {_e(f.severity.value)}">{_e(f.severity.value)}</span>'
        f"<code>{_e(f.code)}</code> {_e(f.message)}{' <i>(fixable)</i>' if f.fixable else ''}</li>"
        for f in ordered
    )
    return f'<ul class="findings">{items}</ul>'


def _fix_cell(fix: Mapping[str, Any]) -> str:
    after = fix.get("after")
    output = fix.get("output")
    if output:
        verdict = getattr(after, "verdict", None) or "pass"
        actions = ", ".join(str(a) for a in fix.get("actions") or ()) or "copied as is"
        frames = fix.get("reframe_preview")
        shown = (f'<br><img class="sheet" alt="before and after the reframe crop of {_e(output)}" src="{_e(frames)}">'
                 if isinstance(frames, str) and frames.startswith("data:image/") else "")  # fmt: skip
        return (
            f'<td data-sort="{_VERDICT_RANK.get(verdict, 0)}">{_badge(verdict)}<br>'
            f'<span class="path">{_e(output)}</span><br><span class="actions">{_e(actions)}</span>{shown}</td>'
        )
    reason = fix.get("reason") or "not fixed"
    return f'<td data-sort="-1"><span class="none">{_e(reason)}</span></td>'


def write_html(report: Report, out: TextIO, color: bool = False) -> None:
    """The ``html`` entry of :data:`preflight.report.FORMATS`: previews are made here, one file at a time.

    ``preflight batch`` makes them in its workers instead and calls :func:`render_html` itself.
    """
    from .batch.preview import preview_data_uri

    previews: dict[str, str | None] = {}
    for item in report.items:
        try:
            previews[item.path] = preview_data_uri(item, pose="pose" in item.analysis)
        except Exception as exc:  # a preview is a nicety; the report must still be written
            log.info("no preview for %s: %s", item.path, exc)
            previews[item.path] = None
    out.write(render_html(report, previews=previews))


FORMATS["html"] = write_html  # report.py, below this module, writes the other formats
