"""The items of a `parallel:` fan-out over a text, split as Dagu 1.30 splits them.

A JSON array gives its elements (texts as they are, other values as compact JSON), a JSON object
is one item; otherwise one separator is chosen, in this order: newlines; double-quoted words
(`"item one" "item two"`); the most frequent of tab, `|`, `;` and `,` (on a tie, the first of
these); spaces. Empty items are dropped, the others trimmed, and repeated items kept once (Dagu
merges them into one child run).

`split_items` splits a text known when the file is loaded; `SPLIT_ITEMS_JS` is the same rule as a
JavaScript function for a variable worked out when the step runs (`for_each>`); a unit test keeps
the two in step.
"""

from __future__ import annotations

import json
import re
from typing import Any


def split_items(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if text[0] in "[{":
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return _unique([p if isinstance(p, str) else json.dumps(p, separators=(",", ":")) for p in parsed])
        if isinstance(parsed, dict):
            return [text]
    if "\n" in text or "\r" in text:
        return _unique(re.split(r"[\r\n]+", text))
    if text.count('"') >= 2 and (text.startswith('"') or text.endswith('"') or '" ' in text or ' "' in text):
        return _unique(_quoted(text))
    counts = [(text.count(sep), -i, sep) for i, sep in enumerate("\t|;,")]
    best = max(counts)
    if best[0] > 0:
        return _unique(text.split(best[2]))
    return _unique(text.split())


def _quoted(text: str) -> list[str]:
    """`"item one" two "three"` → the quoted texts as they are and the other words."""
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in re.finditer(r'"([^"]*)"?|([^\s"]+)', text)]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


SPLIT_ITEMS_JS = (
    "(function(v){v=String(v).trim();var a=null,j,i,c,best=0,sep=null,seps=['\\t','|',';',','];"
    "if(v==='')return '[]';"
    "if(v[0]==='['||v.charCodeAt(0)===123){try{j=JSON.parse(v);}catch(e){j=undefined;}"
    "if(j instanceof Array)a=j.map(function(x){return typeof x==='string'?x:JSON.stringify(x);});"
    "else if(j!==null&&typeof j==='object')a=[v];}"
    "if(a===null&&/[\\r\\n]/.test(v))a=v.split(/[\\r\\n]+/);"
    "if(a===null&&(v.split('\"').length-1)>=2&&(v[0]==='\"'||v[v.length-1]==='\"'||v.indexOf('\" ')>=0"
    "||v.indexOf(' \"')>=0)){a=[];v.replace(/\"([^\"]*)\"?|([^\\s\"]+)/g,function(m,q,w){a.push(q!==undefined?q:w);"
    "return m;});}"
    "if(a===null){for(i=0;i<seps.length;i++){c=v.split(seps[i]).length-1;if(c>best){best=c;sep=seps[i];}}"
    "a=sep===null?v.split(/\\s+/):v.split(sep);}"
    "var seen={},out=[];a.forEach(function(x){x=String(x).trim();if(x!==''&&!seen.hasOwnProperty('k'+x))"
    "{seen['k'+x]=1;out.push(x);}});return JSON.stringify(out);})"
)
