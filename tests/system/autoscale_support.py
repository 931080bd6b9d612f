"""What the autoscaler tests read: workers registered with a broker, and the decisions a
broker logged (event=autoscale lines, docs/protocol.md 7.4)."""
import re

import harness


def registered(endpoint, service):
    """Workers of service registered with the broker at endpoint now (mmi.stats)."""
    stats = harness.mmi_json(endpoint, "mmi.stats", b"") or {"services": []}
    return next((s["workers"] for s in stats["services"] if s["name"] == service), 0)


def decisions(broker, service):
    """(from, to, reason) of every autoscale line the broker logged for service, in order."""
    return [(int(a), int(b), reason) for a, b, reason in re.findall(
        rf"event=autoscale service={service} from=(\d+) to=(\d+) reason=(\w+)", broker.output())]
