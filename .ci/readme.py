#!/usr/bin/env python3
"""Runs every shell block of the README, in order, as a newcomer would paste them into one shell.

The blocks share one bash session (a variable set in one block is there in the next) and run in
the repository's root. A block fails the run when it exits non-zero, or prints a problem+json
answer or a bare `null` (what a command that silently went wrong shows). An HTML comment right
before a block may say how CI runs it:

    <!-- ci: background URL -->   the block serves until the end (or the next background block);
                                  the run goes on once URL answers
    <!-- ci: skip REASON -->      not run here, and said so in the output with the reason
    <!-- ci: cleanup COMMAND -->  COMMAND runs before the first block and after the last one
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
BLOCK = re.compile(r"(?:<!--\s*ci:\s*(?P<directive>.*?)\s*-->\s*\n)?```sh\n(?P<body>.*?)```", re.S)
PROBLEM = re.compile(r'"type"\s*:\s*"(about:blank|https://aeo-registry\.dev/problems/[^"]*)"')
MARK = "__readme_block_done__"


def blocks():
    text = open(README, encoding="utf-8").read()
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        yield line, (match.group("directive") or "").strip(), match.group("body")


def wait_for(url, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


def stop(process):
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Shell:
    """One bash session; each block's output is read up to a marker it prints when done."""

    def __init__(self):
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def run(self, body):
        self.process.stdin.write(body + f"\necho {MARK} $?\n")
        self.process.stdin.flush()
        output = []
        for line in self.process.stdout:
            if line.startswith(MARK):
                return int(line.split()[1]), "".join(output)
            sys.stdout.write("    " + line)
            sys.stdout.flush()
            output.append(line)
        return 1, "".join(output)

    def close(self):
        # Whatever the blocks started in the background (`&`) goes with the session.
        stop(self.process)


def main():
    found = list(blocks())
    cleanups = [d.split(None, 1)[1] for _, d, _ in found if d.startswith("cleanup ")]
    for command in cleanups:
        subprocess.run(["bash", "-c", command], check=False, capture_output=True)
    shell = Shell()
    server = None
    failed = None
    try:
        for line, directive, body in found:
            if directive.startswith("cleanup "):
                directive = ""
            print(f"\n--> README.md:{line}", flush=True)
            print("".join("    $ " + l + "\n" for l in body.rstrip("\n").split("\n")), end="", flush=True)
            if directive.startswith("skip"):
                print(f"    NOT RUN: {directive[len('skip'):].strip()}", flush=True)
                continue
            if directive.startswith("background"):
                url = directive.split(None, 1)[1]
                stop(server)
                server = subprocess.Popen(["bash", "-c", body], start_new_session=True)
                if not wait_for(url, 1800):
                    failed = f"README.md:{line}: {url} never answered"
                    break
                continue
            status, output = shell.run(body)
            if status != 0:
                failed = f"README.md:{line}: the block exited with {status}"
            elif PROBLEM.search(output):
                failed = f"README.md:{line}: an answer was a problem+json error"
            elif any(l.strip() == "null" for l in output.splitlines()):
                failed = f"README.md:{line}: an answer printed null"
            if failed:
                break
    finally:
        shell.close()
        stop(server)
        for command in cleanups:
            subprocess.run(["bash", "-c", command], check=False, capture_output=True)
    if failed:
        print(f"\nFAILED: {failed}", file=sys.stderr)
        sys.exit(1)
    print(f"\nevery README block ran ({len(found)} blocks)")


if __name__ == "__main__":
    main()
