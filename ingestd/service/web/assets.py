"""The pages' style sheet and their one small script, served from the same origin (the
Content-Security-Policy allows nothing inline and nothing from elsewhere).

The script only adds keyboard shortcuts (``j``/``k`` move between clusters or copies, ``/``
focuses the first filter field); every page works without it. It also marks the document
(``data-js="on"``) so a test can tell that the page's own script ran.
"""

from __future__ import annotations

CSS = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fdfdfb; --muted: #5c5c5c;
  --line: #d0d0cc; --shared: #fff0a8; --added: #d5f5d5; --dropped: #fadada; --ev: #1f5fbf; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8e4; --bg: #161616; --muted: #a8a8a8;
  --line: #3a3a3a; --shared: #5c4d00; --added: #1d4a1d; --dropped: #5a2323; --ev: #7fb0ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
main { padding: 0 1rem 2rem; }
a { color: var(--ev); }
a:focus, [tabindex]:focus, button:focus, input:focus, select:focus {
  outline: 3px solid var(--ev); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; }
nav.top { display: flex; flex-wrap: wrap; gap: 1rem; padding: .6rem 1rem;
  border-bottom: 1px solid var(--line); }
h1 { font-size: 1.35rem; overflow-wrap: anywhere; } h2 { font-size: 1.1rem; margin: 0 0 .4rem; }
.muted, .meta dt { color: var(--muted); }
.nolink { font-family: monospace; overflow-wrap: anywhere; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: 1rem 0; }
form.filters label { display: flex; flex-direction: column; font-size: .9rem; }
input, select, button { font: inherit; padding: .3rem .4rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem;
  border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.badge { display: inline-block; border: 1px solid var(--line); border-radius: .6rem;
  padding: 0 .45rem; margin: 0 .2rem .2rem 0; font-size: .85rem; white-space: nowrap; }
.copies { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(20rem, 1fr);
  gap: 1rem; overflow-x: auto; align-items: start; padding-bottom: 1rem; }
.copy { border: 1px solid var(--line); border-radius: .4rem; padding: .8rem; min-width: 0; }
.copy.canonical { border: 2px solid var(--ev); }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .6rem; margin: 0 0 .6rem;
  font-size: .9rem; } .meta dd { margin: 0; overflow-wrap: anywhere; }
.text p { margin: 0 0 .7rem; overflow-wrap: anywhere; }
mark.shared { background: var(--shared); color: inherit; }
ins.added { background: var(--added); text-decoration: none; border-bottom: 2px solid #2e8b2e; }
del.dropped { background: var(--dropped); }
.evidence { outline: 2px solid var(--ev); outline-offset: 2px; border-radius: .2rem; }
p.evidence::before { content: "attribution line: "; font-weight: 600; color: var(--ev); }
.legend > * { margin-right: .8rem; }
details.drops { margin-top: .6rem; } details.drops li { margin-bottom: .4rem; }
.pager { margin-top: 1rem; }
@media (max-width: 48rem) {
  .copies { display: block; } .copy { margin-bottom: 1rem; }
  table.clusters thead { display: none; }
  table.clusters tr { display: block; border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table.clusters td { display: block; border: 0; padding: .1rem 0; }
}
"""

JS = """
"use strict";
document.documentElement.dataset.js = "on";
document.addEventListener("keydown", function (event) {
  var tag = (event.target && event.target.tagName) || "";
  if (event.altKey || event.ctrlKey || event.metaKey || /INPUT|SELECT|TEXTAREA/.test(tag)) {
    return;
  }
  var stops = Array.prototype.slice.call(document.querySelectorAll("[data-nav]"));
  if (event.key === "/") {
    var field = document.querySelector("form input");
    if (field) { event.preventDefault(); field.focus(); }
    return;
  }
  if (event.key !== "j" && event.key !== "k") { return; }
  if (!stops.length) { return; }
  var at = stops.indexOf(document.activeElement);
  var next = event.key === "j" ? Math.min(at + 1, stops.length - 1) : Math.max(at - 1, 0);
  stops[next].focus();
  stops[next].scrollIntoView({block: "nearest", inline: "nearest"});
  event.preventDefault();
});
"""
