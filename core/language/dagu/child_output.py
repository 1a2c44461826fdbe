"""`output:` on a step that runs a child DAG: the child's run as JSON, or a fan-out's aggregate.

Dagu 1.30.2 gives `{name, dagRunId, params, outputs, status}` for one child and, for `parallel:`,
`{summary: {total, succeeded, failed}, results: [one per child], outputs: [the outputs of the
children that succeeded]}`, both indented by two spaces. digpy builds them with tasks of its own
after the child runs: a child's outputs are params of the tasks after it (by their plain names),
so a task right after it reads those it is known to keep (`output:` of its steps, found in its
compiled config) and stores the JSON; a fan-out keeps each child's JSON under a name of the item's
own, and a task after the fan-out puts them together in item order (a child that failed has none).
There is no `dagRunId`: a child DAG is part of its parent's attempt.
"""

from __future__ import annotations

import json
from typing import Any


def workflow_outputs(config: Any) -> list[str]:
    """The params a workflow config keeps with `output:` in its `+tasks` (not in handlers), in order."""
    names: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        output = node.get("output")
        if isinstance(output, str) and node.get("print_output", True) is not False and \
                any(isinstance(k, str) and k.endswith(">") for k in node):
            names.append(output)
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("+") and not key.startswith("+on_"):
                walk(value)

    walk(config)
    return list(dict.fromkeys(names))


def _outputs_object(names: list[str]) -> str:
    """A JavaScript expression: the outputs among `names` that the task sees, as an object."""
    kept = "".join(f'if(typeof {n}!=="undefined")o[{json.dumps(n)}]={n};' for n in names)
    return "(function(){var o={};" + kept + "return o;})()"


def child_result(child: str, params: str, names: list[str], indent: bool, *, params_js: str | None = None,
                 failed: str | None = None) -> str:
    """A template that gives one child's run as JSON (`indent`: as Dagu prints it, else compact);
    `params_js`: a JavaScript expression for its params instead of the text `params`; `failed`: the
    param that is set when the child failed (its status is then `failed`)."""
    status = '"succeeded"' if failed is None else f'(typeof {failed}==="undefined"?"succeeded":"failed")'
    value = '{"name":' + json.dumps(child) + ',"params":' + (params_js or json.dumps(params)) + ',"outputs":' + \
        _outputs_object(names) + ',"status":' + status + '}'
    return "${JSON.stringify(" + value + (",null,2" if indent else "") + ")}"


# The aggregate of the results `r` (in item order): Dagu's {summary, results, outputs}, indented by two
_AGGREGATE = ('var ok=r.filter(function(x){return x.status==="succeeded";});'
              'return JSON.stringify({"summary":{"total":r.length,"succeeded":ok.length,"failed":r.length-ok.length},'
              '"results":r,"outputs":ok.map(function(x){return x.outputs;})},null,2);')


def fan_out_result(kept: list[tuple[str, str, str]]) -> str:
    """A template that gives a fan-out's aggregate JSON; `kept`: per item, in order, the param that
    holds its child's JSON when it succeeded, the child's name and its params as text."""
    items = ",".join(
        f'(typeof {param}==="undefined"?' + json.dumps({"name": child, "params": params, "outputs": {},
                                                         "status": "failed"}) + f":JSON.parse({param}))"
        for param, child, params in kept)
    return "${(function(){var r=[" + items + "];" + _AGGREGATE + "})()}"


def fan_out_result_at_run(items: str, prefix: str, child: str, params: list[str]) -> str:
    """The aggregate of a fan-out whose items are known when it runs: `items` the param that holds
    them (a JSON list of texts), `prefix` + N the param that holds the JSON of item N's child when it
    succeeded (none when the step was skipped); `params`: the step's params as written, cut where the
    item goes."""
    failed = '{"name":' + json.dumps(child) + ',"params":' + json.dumps(params) + '.join(x),"outputs":{},' \
        '"status":"failed"}'
    return ("${(function(t){var r=JSON.parse(t[" + json.dumps(items) + "]||\"[]\").map(function(x,i){var v=t[" +
            json.dumps(prefix) + "+i];return v===undefined?" + failed + ":JSON.parse(v);});" + _AGGREGATE +
            "})(this)}")


def keep_task(value: str, output: str, after: list[str] | None = None) -> dict[str, Any]:
    """A task that stores `value` (a template) as the param `output`, printing nothing."""
    task: dict[str, Any] = {"sh>": 'printf "%s" "$$DIGPY_VALUE"', "DIGPY_VALUE": value, "output": output,
                            "print_output": False}
    if after:
        task["_after"] = after
    return task
