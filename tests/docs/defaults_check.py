#!/usr/bin/env python3
"""The defaults config.proto documents are the ones the bridge applies.

Every field whose comment says `Default <value>` (a number, a quoted string, true, false or a
status name) is looked up in what `bridge --check_config` prints: the configuration with its
defaults applied (bridge/config/defaults.h through config::ApplyDefaults). The sections that
switch a feature on (tls, auth.jwt, auth.service, a route's tls, a retry policy, a channel
namespace) are given empty in the configs below, so their defaults are applied and printed too.

Usage: defaults_check.py BRIDGE_BINARY CONFIG_PROTO
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs"))

# Each config makes every section present once; jwt and service exclude each other.
CONFIGS = [
    """
    tls { cert_file: "c.pem" key_file: "k.pem" }
    auth { jwt { hs256_secret: "0123456789abcdef0123456789abcdef" } }
    routes { service: "demo.v1.Echo" target: "127.0.0.1:1" tls { } json { } }
    retry_policies { service: "demo.v1.Echo" max_attempts: 2 }
    channels { namespaces { pattern: "chat:*" } }
    batch { max_frames: 4 }
    tracing { }
    """,
    """
    auth { service { target: "127.0.0.1:1" } }
    """,
]

# "Default 30000", "Default \"sub\"", "Default true", "Default UNAVAILABLE"; not "Default 2 x interval".
DEFAULT_RE = re.compile(r'\bDefault (-?\d+(?:\.\d+)?|"[^"]*"|true|false|[A-Z][A-Z_]+)(?! x)\b')


def documented_defaults(proto_text):
    """{(message, field): (value, repeated)} for every field documented with one default."""
    import gen_configuration  # docs/gen_configuration.py: the same parser the docs are made with

    found = {}
    for message, _, groups in gen_configuration.parse(proto_text):
        for fields, comment in groups:
            if len(fields) != 1:
                continue  # a group's comment ("Defaults: 1024 frames, ...") names no one field
            m = DEFAULT_RE.search(comment)
            if m is None:
                continue
            (name, shown), = fields
            found[(message, name)] = (m.group(1).strip('"'), shown.startswith("repeated "))
    return found


def parse_text_format(text):
    """A printed message as {field: [values]} with nested messages as dicts."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{}]|[A-Za-z0-9_.+-]+:?', text)
    pos = 0

    def message():
        nonlocal pos
        out = {}
        while pos < len(tokens) and tokens[pos] != "}":
            name = tokens[pos].rstrip(":")
            pos += 1
            if tokens[pos] == "{":
                pos += 1
                value = message()
                pos += 1  # "}"
            else:
                value = tokens[pos].strip('"')
                pos += 1
            out.setdefault(name, []).append(value)
        return out

    return message()


# Where each message of config.proto sits in a printed BridgeConfig.
PATHS = {
    "BridgeConfig": [],
    "ChannelsConfig": ["channels"],
    "ChannelNamespace": ["channels", "namespaces"],
    "BrokerConfig": ["broker"],
    "BatchConfig": ["batch"],
    "ServerTls": ["tls"],
    "AuthConfig": ["auth"],
    "AuthServiceConfig": ["auth", "service"],
    "JwtConfig": ["auth", "jwt"],
    "Route": ["routes"],
    "RouteTls": ["routes", "tls"],
    "RouteJson": ["routes", "json"],
    "RetryPolicy": ["retry_policies"],
    "RetryThrottling": ["retry_throttling"],
    "TracingConfig": ["tracing"],
}

ZERO = {"0", "false", ""}


def same(documented, printed):
    if documented == printed:
        return True
    try:
        return float(documented) == float(printed)
    except ValueError:
        return False


def main():
    bridge, proto = sys.argv[1], sys.argv[2]
    with open(proto) as f:
        documented = documented_defaults(f.read())
    printed = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(CONFIGS):
            path = os.path.join(tmp, f"config{i}.textproto")
            with open(path, "w") as f:
                f.write(text)
            run = subprocess.run([bridge, "--check_config", f"--config={path}"],
                                 capture_output=True, text=True, timeout=60)
            if run.returncode != 0:
                sys.exit(f"bridge --check_config refused config {i}: {run.stderr.strip()}")
            printed.append(parse_text_format(run.stdout))

    errors, checked = [], 0
    for (message, field), (want, repeated) in sorted(documented.items()):
        if message not in PATHS:
            errors.append(f"{message}.{field}: documents a default, but where the message sits "
                          "in BridgeConfig is not known to this check (add it to PATHS)")
            continue
        seen = False
        for config in printed:
            node = config
            for step in PATHS[message]:
                node = node.get(step, [None])[0]
                if node is None:
                    break
            if node is None:
                continue
            seen = True
            values = node.get(field, [])
            if repeated:
                ok = want in values
            elif not values:
                ok = want in ZERO  # proto3 prints no zero, empty or false scalar
            else:
                ok = same(want, values[0])
            if not ok:
                errors.append(f"{message}.{field}: config.proto documents Default {want}, "
                              f"the bridge applies {values or 'nothing'}")
        if not seen:
            errors.append(f"{message}.{field}: no test config makes {message} present")
        checked += 1
    for e in errors:
        print("FAIL", e)
    print(f"{checked} documented defaults checked, {len(errors)} wrong")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
