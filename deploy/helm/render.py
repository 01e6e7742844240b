#!/usr/bin/env python3
"""Render the llmtap chart without Helm: a minimal, strict implementation of the Go-template
subset the chart uses, so the chart can be tested on machines where Helm is not installable.

Supported: {{ .Values.a.b }}, {{ .Release.Namespace }}, {{ .Chart.Version }}, pipes
`| quote`, `| nindent N`, `| indent N`, `toYaml X`, {{ if X }} ... {{ end }} (nestable, no
else), {{/* comments */}}, and Go's `{{-` / `-}}` whitespace trimming. Anything else is an
error, so a template that drifts outside the subset fails the test instead of rendering wrong.
"""
import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def lookup(ctx, path):
    if not path.startswith("."):
        raise TemplateError(f"unsupported operand {path!r}")
    cur = ctx
    for part in path[1:].split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise TemplateError(f"missing value {path}")
        cur = cur[part]
    return cur


def to_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        raise TemplateError("nil value printed")
    if isinstance(v, (dict, list)):
        raise TemplateError("map or list printed without toYaml")
    return str(v)


def to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def evaluate(expr, ctx):
    stages = [s.strip() for s in expr.split("|")]
    head = stages[0].split()
    if len(head) == 1:
        val = lookup(ctx, head[0])
    elif len(head) == 2 and head[0] == "toYaml":
        val = to_yaml(lookup(ctx, head[1]))
    else:
        raise TemplateError(f"unsupported expression {stages[0]!r}")
    for st in stages[1:]:
        parts = st.split()
        if parts == ["quote"]:
            val = json.dumps(to_text(val))
        elif len(parts) == 2 and parts[0] in ("nindent", "indent"):
            pad = " " * int(parts[1])
            text = "\n".join(pad + line for line in to_text(val).split("\n"))
            val = ("\n" + text) if parts[0] == "nindent" else text
        else:
            raise TemplateError(f"unsupported function {st!r}")
    return to_text(val)


def truthy(v):
    return bool(v)  # Go: false, 0, nil, "" and empty collections are false.


def render(text, ctx):
    # Tokenise into text and actions, applying trim markers.
    tokens = []
    pos = 0
    for m in ACTION.finditer(text):
        tokens.append(["text", text[pos:m.start()]])
        if m.group(1):
            tokens[-1][1] = tokens[-1][1].rstrip(" \t\r\n")
        tokens.append(["action", m.group(2).strip(), bool(m.group(3))])
        pos = m.end()
    tokens.append(["text", text[pos:]])
    for i, t in enumerate(tokens):
        if t[0] == "action" and t[2] and i + 1 < len(tokens):
            tokens[i + 1][1] = tokens[i + 1][1].lstrip(" \t\r\n")

    out = []
    stack = [True]  # emitting?
    for t in tokens:
        if t[0] == "text":
            if all(stack):
                out.append(t[1])
            continue
        act = t[1]
        if act.startswith("/*"):
            continue
        if act.startswith("if "):
            stack.append(all(stack) and truthy(lookup(ctx, act[3:].strip())))
        elif act == "end":
            if len(stack) == 1:
                raise TemplateError("end without if")
            stack.pop()
        elif act.startswith(("else", "range", "with", "define", "include", "template")):
            raise TemplateError(f"unsupported action {act!r}")
        elif all(stack):
            out.append(evaluate(act, ctx))
    if len(stack) != 1:
        raise TemplateError("unclosed if")
    return "".join(out)


def set_value(values, assignment):
    key, _, raw = assignment.partition("=")
    cur = values
    parts = key.split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = yaml.safe_load(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("chart", type=Path)
    ap.add_argument("--namespace", default="llmtap")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    chart = yaml.safe_load((args.chart / "Chart.yaml").read_text())
    values = yaml.safe_load((args.chart / "values.yaml").read_text()) or {}
    for s in args.set:
        set_value(values, s)
    ctx = {
        "Values": values,
        "Release": {"Namespace": args.namespace, "Name": "llmtap", "Service": "Helm"},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
    }
    docs = []
    for tpl in sorted((args.chart / "templates").glob("*.yaml")):
        try:
            rendered = render(tpl.read_text(), ctx)
        except TemplateError as e:
            sys.exit(f"{tpl}: {e}")
        docs.append(f"# Source: {tpl.name}\n{rendered.strip()}\n")
    text = "---\n".join(docs)
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
