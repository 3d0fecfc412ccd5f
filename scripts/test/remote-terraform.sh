#!/usr/bin/env bash
# Static checks of the remote-workspace Terraform module (dev/remote/terraform). A plan needs the
# linode/linode provider from registry.terraform.io, which this machine cannot reach, so:
#  - `terraform fmt -check` (works offline);
#  - the module is parsed with python-hcl2 and the contract is asserted: the instance and the
#    firewall carry the tags owner/region/ttl/workspace_id, the instance has a public and a VLAN
#    interface, the firewall drops inbound by default and accepts only SSH (22/tcp) and the VLAN
#    range, the inputs and outputs the issue names exist (ttl_hours defaults to 24), and the
#    StackScript's version header and UDFs match what the module reads and passes;
#  - mutated copies of the module must fail those assertions (the checks bite).
set -euo pipefail
# shellcheck source=../dev/lib.sh
source "$(dirname "$0")/../dev/lib.sh"
# shellcheck source=checks.bash
source "$(dirname "$0")/checks.bash"
cd "$DEVENV_ROOT"
command -v terraform >/dev/null 2>&1 || die "$EXIT_USAGE" "terraform is not installed" "install Terraform ≥ 1.6 (https://developer.hashicorp.com/terraform/install)"
PYTHON="$(venv_python)" || exit
"$PYTHON" -c 'import hcl2' 2>/dev/null || die "$EXIT_USAGE" "python-hcl2 is missing from .devenv/venv" "run \`scripts/dev/setup.sh test\`"

MODULE=dev/remote/terraform
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if terraform fmt -check -recursive -diff "$MODULE" >"$work/fmt.out" 2>/dev/null; then
  ok "terraform fmt -check: $MODULE is formatted"
else
  cat "$work/fmt.out" >&2
  fail "terraform fmt -check (run \`terraform fmt -recursive $MODULE\`)"
fi

assert_module() {
  "$PYTHON" - "$1" dev/remote/stackscript.sh <<'PY'
import glob, os, re, sys
import hcl2

module, stackscript = sys.argv[1], sys.argv[2]
doc = {}
for path in sorted(glob.glob(os.path.join(module, "*.tf"))):
    with open(path) as f:
        for key, value in hcl2.load(f).items():
            doc.setdefault(key, []).extend(value)
problems = []

def unq(v):
    return v[1:-1] if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"' else v

def resources(kind):
    out = {}
    for block in doc.get("resource", []):
        for k, named in block.items():
            if unq(k) == kind:
                out.update({unq(n): body for n, body in named.items()})
    return out

local = {k: v for block in doc.get("locals", []) for k, v in block.items()}
tags = [unq(t) for t in local.get("tags", [])]
for key in ("owner", "region", "ttl", "workspace_id"):
    if not any(t.startswith(f"{key}:") for t in tags):
        problems.append(f"local.tags has no {key}:… tag")
if not any(t.startswith("ttl:${formatdate(") for t in tags):
    problems.append("the ttl tag must be a formatted expiry time (remote-reap parses it)")

instances = resources("linode_instance")
firewalls = resources("linode_firewall")
if len(instances) != 1 or len(firewalls) != 1:
    problems.append(f"expected one linode_instance and one linode_firewall, got {list(instances)} / {list(firewalls)}")
inst = next(iter(instances.values()), {})
fw = next(iter(firewalls.values()), {})
for name, body in (("linode_instance", inst), ("linode_firewall", fw)):
    if body.get("tags") != "${local.tags}":
        problems.append(f"{name} must carry tags = local.tags")

ifaces = inst.get("interface", [])
purposes = [unq(i.get("purpose")) for i in ifaces]
if purposes[:1] != ["public"] or "vlan" not in purposes:
    problems.append(f"instance interfaces must be public then vlan, got {purposes}")
vlan = next((i for i in ifaces if unq(i.get("purpose")) == "vlan"), {})
if vlan.get("label") != "${var.vlan_label}" or "local.private_ip" not in str(vlan.get("ipam_address")):
    problems.append("the vlan interface needs label = var.vlan_label and ipam_address from local.private_ip")

if unq(fw.get("inbound_policy")) != "DROP":
    problems.append("firewall inbound_policy must be DROP")
if f"linode_instance.{next(iter(instances), '')}.id" not in str(fw.get("linodes")):
    problems.append("firewall must attach to the instance (linodes = [linode_instance.<name>.id])")
rules = fw.get("inbound", [])
ssh = [r for r in rules if unq(r.get("ports")) == "22" and unq(r.get("protocol")) == "TCP"]
if len(ssh) != 1:
    problems.append("firewall needs exactly one SSH rule (TCP 22)")
for r in rules:
    if unq(r.get("action")) != "ACCEPT":
        problems.append(f"inbound rule {unq(r.get('label'))}: only ACCEPT rules on a DROP policy")
    if r in ssh:
        continue
    if r.get("ipv4") != ["${var.vlan_cidr}"] or r.get("ipv6"):
        problems.append(f"inbound rule {unq(r.get('label'))} admits more than the VLAN ({r.get('ipv4')}, {r.get('ipv6')})")
if not any(r not in ssh for r in rules):
    problems.append("firewall has no VLAN rule")

variables = {unq(k): v for block in doc.get("variable", []) for k, v in block.items()}
for name in ("workspace_id", "region", "ttl_hours", "instance_type", "ssh_public_keys", "owner", "created_at"):
    if name not in variables:
        problems.append(f"input variable {name} is missing")
if variables.get("ttl_hours", {}).get("default") != 24:
    problems.append("ttl_hours must default to 24")
outputs = {unq(k) for block in doc.get("output", []) for k in block}
for name in ("instance_id", "private_ip", "stackscript_version", "public_ipv4"):
    if name not in outputs:
        problems.append(f"output {name} is missing")

script = open(stackscript).read()
m = re.search(r"devenv-stackscript-version: ([0-9]+)", script)
if not m:
    problems.append("stackscript.sh has no '# devenv-stackscript-version: N' header")
elif not re.search(rf"^STACKSCRIPT_VERSION={m.group(1)}$", script, re.M):
    problems.append("stackscript.sh: STACKSCRIPT_VERSION disagrees with its version header")
if "devenv-stackscript-version" not in local.get("stackscript_version", ""):
    problems.append("local.stackscript_version must be read from the stackscript header")
udfs = set(re.findall(r'<UDF name="([a-z_]+)"', script))
passed = set(inst.get("stackscript_data", {}).keys())
if udfs != passed:
    problems.append(f"stackscript_data keys {sorted(passed)} differ from the StackScript UDFs {sorted(udfs)}")

sys.stdout.writelines(p + "\n" for p in problems)
sys.exit(1 if problems else 0)
PY
}

# Mutations of a copy: each must be caught, by name.
mutate() { rm -rf "$work/m"; cp -r "$MODULE" "$work/m"; "$PYTHON" -c "$1" "$work/m/main.tf"; }
expect_caught() { mutation_caught "$work/mut.out" "$1" "$2" assert_module "$work/m"; }

expect_clean "$work/assert.out" \
  "module contract: tags owner/region/ttl/workspace_id, VLAN interface, firewall = SSH + VLAN only, inputs/outputs, StackScript version + UDFs" \
  "module contract" assert_module "$MODULE"

# shellcheck disable=SC2016 # Terraform's ${...}, not the shell's
mutate 'import sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s.replace("""    "owner:${var.owner}",\n""", ""))'
expect_caught "a missing owner tag" "local.tags has no owner"
mutate 'import sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s.replace("""    label    = "vlan-udp"\n    action   = "ACCEPT"\n    protocol = "UDP"\n    ipv4     = [var.vlan_cidr]""", """    label    = "vlan-udp"\n    action   = "ACCEPT"\n    protocol = "UDP"\n    ipv4     = ["0.0.0.0/0"]"""))'
expect_caught "a firewall rule open to the world" "admits more than the VLAN"
mutate 'import sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s.replace("""    purpose      = "vlan\"""", """    purpose      = "public\""""))'
expect_caught "no VLAN interface" "instance interfaces must be public then vlan"
mutate 'import sys; p=sys.argv[1]; s=open(p).read(); open(p,"w").write(s.replace("inbound_policy  = \"DROP\"", "inbound_policy  = \"ACCEPT\""))'
expect_caught "an ACCEPT inbound policy" "inbound_policy must be DROP"

finish remote-terraform "fix $MODULE (see above)"
ok "remote-terraform: all checks passed (no plan: the linode provider cannot be downloaded here)"
