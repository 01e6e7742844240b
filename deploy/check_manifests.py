#!/usr/bin/env python3
"""Offline checks of the deployment kit that need no cluster:
- the rendered chart equals the plain manifests (Namespace excepted) object by object;
- a rendering with capabilities.sysResource=true adds SYS_RESOURCE and nothing else;
- the ConfigMap's config.toml parses as TOML with the expected keys;
- the observability custom resources have the fields the Prometheus Operator requires and the
  Grafana dashboard is valid JSON with panels.
Exits non-zero with a message on the first failure.
"""
import json
import sys
import tomllib
from pathlib import Path

import yaml


def load_all(paths):
    docs = []
    for p in paths:
        docs += [d for d in yaml.safe_load_all(Path(p).read_text()) if d]
    return docs


def key(d):
    return (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])


def fail(msg):
    sys.exit(f"check_manifests: {msg}")


def main():
    deploy = Path(__file__).resolve().parent
    plain_files, chart_file, chart_sysres = sys.argv[1], sys.argv[2], sys.argv[3]
    plain = {key(d): d for d in load_all(sorted(Path(plain_files).glob("*.yaml")))}
    chart = {key(d): d for d in load_all([chart_file])}
    plain.pop(("Namespace", "", "llmtap"), None)
    if plain.keys() != chart.keys():
        fail(f"object sets differ: plain-only {plain.keys() - chart.keys()}, chart-only {chart.keys() - plain.keys()}")
    for k in plain:
        if plain[k] != chart[k]:
            fail(f"{k} differs between deploy/kubernetes and the rendered chart:\n"
                 f"plain: {json.dumps(plain[k], sort_keys=True)}\nchart: {json.dumps(chart[k], sort_keys=True)}")

    sysres = {key(d): d for d in load_all([chart_sysres])}
    ds = ("DaemonSet", "llmtap", "llmtap")
    caps = sysres[ds]["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
    if caps["add"] != ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN", "SYS_RESOURCE"]:
        fail(f"sysResource=true rendered {caps}")

    cfg = tomllib.loads(plain[("ConfigMap", "llmtap", "llmtap-config")]["data"]["config.toml"])
    if cfg["export"]["metrics_addr"] != "0.0.0.0:9464" or cfg["agent"]["state_dir"] != "/var/lib/llmtap":
        fail(f"config.toml: {cfg}")
    if "salt_file" not in cfg.get("privacy", {}):
        fail("config.toml has no privacy.salt_file")

    obs = load_all(sorted((deploy / "observability").glob("*.yaml")))
    kinds = {d["kind"] for d in obs}
    if kinds != {"PodMonitor", "ServiceMonitor", "PrometheusRule"}:
        fail(f"observability kinds: {kinds}")
    for d in obs:
        spec = d["spec"]
        if d["kind"] == "PrometheusRule":
            for g in spec["groups"]:
                for r in g["rules"]:
                    if not r.get("alert") or not r.get("expr") or "summary" not in r.get("annotations", {}):
                        fail(f"rule without alert/expr/summary: {r}")
        elif d["kind"] == "ServiceMonitor":
            if not spec["endpoints"] or spec["selector"]["matchLabels"] != {"app.kubernetes.io/name": "llmtap"}:
                fail("ServiceMonitor selector/endpoints")
        else:
            if not spec["podMetricsEndpoints"] or spec["selector"]["matchLabels"] != {"app.kubernetes.io/name": "llmtap"}:
                fail("PodMonitor selector/endpoints")
    dash = json.loads((deploy / "observability" / "grafana-dashboard.json").read_text())
    if not dash.get("panels") or not dash.get("title"):
        fail("dashboard has no panels")
    print(f"check_manifests: {len(plain)} objects equal, {len(obs)} observability objects, "
          f"{len(dash['panels'])} dashboard panels: ok")


if __name__ == "__main__":
    main()
