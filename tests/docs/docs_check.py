"""Checks the repository's documents of record (README.md and docs/*.md):

- the README stays what a newcomer reads first: at most 200 lines;
- every relative link resolves to a file inside the repository, and a link to a heading of a
  Markdown file names a heading it has (GitHub's anchors): nothing points outside the clone;
- docs/configuration.md is what docs/gen_configuration.py writes from config.proto today.

The documents are the test's data (a change to one runs it again); the files they link to are
looked up in the source tree the runfiles' links lead to.
"""
import os
import re
import subprocess
import sys

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found, in_code = set(), False
    with open(path) as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            m = re.match(r"^#+ (.*)$", line)
            if m and not in_code:
                found.add(slug(m.group(1)))
    return found


def main():
    runfiles = sys.argv[1]
    # README.md in the runfiles is a link into the source tree: its directory is the root.
    root = os.path.dirname(os.path.realpath(os.path.join(runfiles, "README.md")))
    docs = ["README.md"] + sorted(
        os.path.join("docs", n) for n in os.listdir(os.path.join(root, "docs")) if n.endswith(".md"))
    errors = []
    with open(os.path.join(root, "README.md")) as f:
        n = sum(1 for _ in f)
    if n > 200:
        errors.append(f"README.md has {n} lines; at most 200 (the rest belongs in docs/)")
    for doc in docs:
        path = os.path.join(root, doc)
        text = open(path).read()
        text_no_code = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in LINK.findall(text_no_code):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not (dest == root or dest.startswith(root + os.sep)):
                errors.append(f"{doc}: {target} points outside the repository")
                continue
            if not os.path.exists(dest):
                errors.append(f"{doc}: {target}: no such file")
                continue
            if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                errors.append(f"{doc}: {target}: no heading with that anchor")
    gen = subprocess.run([sys.executable, os.path.join(runfiles, "docs/gen_configuration.py"),
                          "--check"], capture_output=True, text=True)
    if gen.returncode != 0:
        errors.append(gen.stderr.strip() or "docs/gen_configuration.py --check failed")
    for e in errors:
        print("FAIL", e)
    print(f"{len(docs)} documents checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
