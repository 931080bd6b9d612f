"""lan_support: test hosts on one machine -- network namespaces joined by a bridge in a
namespace of its own, each resolving the others by name -- for the tests of what crosses a
network (multi-host clusters, CURVE between hosts, deploy files, cut links), and the checks
those tests share (root, tools; the SLOWLANE_* variables a binary reads)."""
import os
import re
import shutil
import subprocess
import unittest


def flags_of(binary_path):
    """The SLOWLANE_* variables a binary reads, from its --help ("[SLOWLANE_X]" per flag)."""
    out = subprocess.run([binary_path, "--help"], capture_output=True, text=True, timeout=10)
    return set(re.findall(r"\[(SLOWLANE_[A-Z0-9_]+)\]", out.stdout + out.stderr))


def need_root():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: network namespaces (run as root, as CI does)")
    for tool in ("ip", "curl"):
        if not shutil.which(tool):
            raise unittest.SkipTest(f"needs {tool}")


def run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


class Lan:
    """Test hosts: one network namespace per name, joined by a bridge that lives in a namespace of
    its own (nothing is added to the machine's own network), on a private subnet that exists only
    there. /etc/netns/<ns>/hosts maps every name to its address; `ip netns exec` bind-mounts it
    over /etc/hosts, so the names resolve as they would in a compose network."""

    def __init__(self, names, subnet="10.213.1"):
        self.prefix = f"sl{os.getpid()}"
        self.subnet = subnet
        self.names = list(names)
        self.address = {name: f"{subnet}.{10 + i}" for i, name in enumerate(self.names)}
        self.created = []
        self.lan = self.ns("lan")
        try:
            self._add_ns(self.lan)
            run("ip", "-n", self.lan, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.lan, "link", "set", "br0", "up")
            hosts = "127.0.0.1 localhost\n" + "".join(
                f"{addr} {name}\n" for name, addr in self.address.items())
            for i, name in enumerate(self.names):
                ns = self.ns(name)
                self._add_ns(ns)
                os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
                with open(f"/etc/netns/{ns}/hosts", "w") as f:
                    f.write(hosts)
                # The veth is made inside the bridge's namespace, its peer straight in the host's.
                run("ip", "-n", self.lan, "link", "add", self.port(name), "type", "veth", "peer",
                    "name", "eth0", "netns", ns)
                run("ip", "-n", self.lan, "link", "set", self.port(name), "master", "br0", "up")
                run("ip", "-n", ns, "addr", "add", f"{self.address[name]}/24", "dev", "eth0")
                run("ip", "-n", ns, "link", "set", "eth0", "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise

    def ns(self, name):
        return f"{self.prefix}-{name}"

    def port(self, name):
        return f"p{self.names.index(name)}"

    def _add_ns(self, ns):
        run("ip", "netns", "add", ns)
        self.created.append(ns)

    def exec_args(self, name, *args):
        return ["ip", "netns", "exec", self.ns(name), *args]

    def sh(self, name, *args, timeout=15):
        """Runs a command in a host's namespace; returns the CompletedProcess."""
        return subprocess.run(self.exec_args(name, *args), capture_output=True, text=True,
                              timeout=timeout)

    def cut(self, name):
        run("ip", "-n", self.lan, "link", "set", self.port(name), "down")

    def restore(self, name):
        run("ip", "-n", self.lan, "link", "set", self.port(name), "up")

    def http(self, name, url, timeout=10):
        """GET url from host name with curl; returns (status, body)."""
        out = self.sh(name, "curl", "-sS", "--max-time", str(timeout), "-o", "-",
                      "-w", "\n%{http_code}", url, timeout=timeout + 5)
        body, _, status = out.stdout.rpartition("\n")
        return int(status or 0), body

    def destroy(self):
        """Deletes every namespace it made (their veths and the bridge go with them) and the
        hosts files. Safe to call twice."""
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        self.created = []
        try:
            os.rmdir("/etc/netns")  # only if nobody else uses it
        except OSError:
            pass


def submit_async(lan, host, url):
    """GET url with `Prefer: respond-async` from a test host of lan: (status, Location or None)."""
    out = lan.sh(host, "curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-D", "-",
                 "-H", "Prefer: respond-async", url, timeout=15)
    lines = out.stdout.splitlines()
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    location = next((line.split(":", 1)[1].strip() for line in lines
                     if line.lower().startswith("location:")), None)
    return status, location
