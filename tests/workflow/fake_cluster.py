"""Stand-ins for `apptainer` and `sbatch`, so that the slurm profile can run for real on a machine without either.

`apptainer exec` is emulated as far as the environment goes (what the container process sees), following the
Apptainer user guide ("Environment and Metadata"): `--cleanenv` starts from an empty environment; `APPTAINERENV_X`
variables of the caller set `X`; `--env A=1,B=2` sets pairs (comma separated); HOME is set from `--home`. It then
runs the command on the host, with PATH set to `FAKE_APPTAINER_PATH` (standing in for the image's PATH), and appends
its argv and the environment it gave the command to `FAKE_CLUSTER_LOG` (JSON lines).

`sbatch` records its argv in the same log and fails, as a cluster that refuses the job would: a test sees exactly
what Snakemake would have submitted, and nothing runs. The query tools the slurm plugin calls before submitting
(sacct, squeue, sinfo, scontrol, sshare) answer nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

APPTAINER = r'''#!{python}
import json, os, sys
argv = sys.argv[1:]
if argv[:1] == ["--version"]:
    print("apptainer version 1.3.4")
    sys.exit(0)
log = os.environ["FAKE_CLUSTER_LOG"]
i = argv.index("exec") + 1
env, pairs, clean, home = {{}}, [], False, None
while argv[i].startswith("-"):
    flag = argv[i]
    if flag in ("--cleanenv", "-e"):
        clean = True
    elif flag in ("--env", "--home", "--bind", "-B", "--pwd"):
        value = argv[i + 1]
        i += 1
        if flag == "--env":
            for pair in value.split(","):
                if "=" not in pair:
                    sys.exit(f"FATAL: {{pair}} must be formatted as key=value")
                pairs.append(pair.split("=", 1))
        elif flag == "--home":
            home = value
    i += 1
image, command = argv[i], argv[i + 1:]
if not clean:
    env.update(os.environ)
env.update({{k[len("APPTAINERENV_"):]: v for k, v in os.environ.items() if k.startswith("APPTAINERENV_")}})
env.update(dict(pairs))
env["PATH"] = os.environ["FAKE_APPTAINER_PATH"]
env["HOME"] = home or os.environ.get("HOME", "/")
env["FAKE_CLUSTER_LOG"] = log
with open(log, "a") as out:
    out.write(json.dumps({{"tool": "apptainer", "argv": sys.argv[1:], "image": image, "env": env}}) + "\n")
os.execvpe(command[0], command, env)
'''

SBATCH = r'''#!{python}
import json, os, sys
with open(os.environ["FAKE_CLUSTER_LOG"], "a") as out:
    out.write(json.dumps({{"tool": "sbatch", "argv": sys.argv[1:], "stdin": "" if sys.stdin.isatty() else sys.stdin.read()}}) + "\n")
print("sbatch: error: this is not a cluster (fake sbatch)", file=sys.stderr)
sys.exit(1)
'''


QUERY_TOOLS = ("sacct", "squeue", "sinfo", "scontrol", "sshare")


def install(bin_dir: Path) -> Path:
    """Write the fake `apptainer`, `sbatch` and query tools into bin_dir; returns the log file they append to."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    scripts = {"apptainer": APPTAINER, "sbatch": SBATCH, **{tool: "#!/bin/sh\nexit 0\n" for tool in QUERY_TOOLS}}
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable) if "{python}" in text else text)
        path.chmod(0o755)
    return bin_dir / "calls.jsonl"


def calls(log: Path, tool: str) -> list[dict]:
    if not log.exists():
        return []
    return [entry for line in log.read_text().splitlines() if (entry := json.loads(line))["tool"] == tool]


def environment(log: Path, image_path: str, **extra: str) -> dict[str, str]:
    """The environment for a Snakemake run that uses the fakes (put their bin_dir on PATH, e.g. with
    workflow_helpers.snakemake(extra_path=...)); image_path is the PATH inside the 'container'."""
    return dict(os.environ, FAKE_CLUSTER_LOG=str(log), FAKE_APPTAINER_PATH=image_path, **extra)
