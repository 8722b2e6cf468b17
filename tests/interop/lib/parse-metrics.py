"""Parses a Prometheus text exposition from stdin with the Prometheus
project's own parser (python3-prometheus-client) and prints it as JSON:
{"families": [{"name", "type", "help", "samples": [{"name", "labels", "value"}]}]}.
A malformed exposition makes the parser raise: exit 1 with its message."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def number(v):
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    return v


families = []
for f in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": f.name,
        "type": f.type,
        "help": f.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": number(s.value)} for s in f.samples],
    })
json.dump({"families": families}, sys.stdout)
