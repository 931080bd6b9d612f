"""Reading /metrics in tests: validation with a real parser (promtool from Debian's prometheus
package, else python3-prometheus-client's parser) and a small sample lookup.

Not a test module itself: test_metrics.py and test_dashboard_http.py import it."""
import re
import shutil
import subprocess
import unittest

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    status, headers, body = harness.http_request(port, "GET", "/metrics")
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    return body.decode()


def validate(text):
    """Checks text with promtool (exit 0, no lint problems) or, without it, with
    prometheus_client's parser; SkipTest if neither is installed. Returns the tool used."""
    promtool = shutil.which("promtool")
    if promtool:
        result = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                capture_output=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError("promtool check metrics:\n" + result.stdout + result.stderr)
        return "promtool"
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        raise unittest.SkipTest("neither promtool (prometheus) nor python3-prometheus-client")
    families = list(text_string_to_metric_families(text))
    assert families, "no metric families"
    return "prometheus_client"


def samples(text):
    """[(name, {label: value}, float)] for every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"unparsable sample line: {line!r}"
        labels = dict(LABEL.findall(match.group(2) or ""))
        out.append((match.group(1), labels, float(match.group(3))))
    return out


def value(text, name, **labels):
    """The sample of name whose labels include labels (0 if none; summed if several)."""
    total, found = 0.0, False
    for sample_name, sample_labels, sample_value in samples(text):
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            total += sample_value
            found = True
    return total if found else 0.0
