"""`essays publish`: the built site as a commit on a branch (gh-pages), pushed to a remote.

The author's checkout is never touched: the site's files go into a temporary index of
their own (GIT_INDEX_FILE) and become a tree, a commit on top of the branch's last one and
the branch's new tip, with git's plumbing commands (`add`, `write-tree`, `commit-tree`,
`update-ref`), as ghp-import does. The working tree, the checked-out branch and the
author's index stay as they were.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import EssaysError
from .paths import SITE_MARKER, is_our_site, shown


class PublishError(EssaysError):
    """Git refused, or there is nothing that can be published."""


@dataclass(frozen=True)
class Published:
    branch: str
    commit: str  # the branch's tip after publishing
    changed: bool  # False: the site was the branch's last commit already
    pushed_to: str | None  # the remote, when pushed


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
        )
    except FileNotFoundError:
        raise PublishError("git is not installed: essays publish commits the site with git") from None
    if done.returncode != 0:
        raise PublishError(f"git {args[0]} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def _default_message(root: Path) -> str:
    try:
        return f"Publish the site built from {_git(['rev-parse', '--short', 'HEAD'], root)}"
    except PublishError:  # a repository without a commit yet
        return "Publish the site"


def publish(site: Path, branch: str = "gh-pages", remote: str | None = "origin", message: str = "") -> Published:
    """Commit the site folder `site` as the whole content of `branch` of the repository the
    working directory is in, and push the branch to `remote` (None: do not push)."""
    if not is_our_site(site):
        raise PublishError(f"{shown(site)} is not a site built by essays: run `essays build` first")
    cwd = Path.cwd()
    root = Path(_git(["rev-parse", "--show-toplevel"], cwd))
    parent = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="essays-publish-") as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": os.path.join(scratch, "index")}
        work_tree = ["--work-tree", str(site.resolve())]
        # -f: a site holds whatever the essays publish, .gitignore's patterns included
        _git([*work_tree, "add", "-A", "-f", "."], root, env)
        _git(["rm", "--cached", "--quiet", "--ignore-unmatch", SITE_MARKER], root, env)  # the builder's own mark
        tree = _git(["write-tree"], root, env)
    if parent and _git(["rev-parse", f"{parent}^{{tree}}"], root) == tree:
        commit, changed = parent, False
    else:
        text = message or _default_message(root)
        commit = _git(["commit-tree", tree, *(["-p", parent] if parent else []), "-m", text], root)
        _git(["update-ref", f"refs/heads/{branch}", commit, *([parent] if parent else [])], root)
        changed = True
    if remote is not None:
        _git(["push", remote, f"refs/heads/{branch}:refs/heads/{branch}"], root)
    return Published(branch, commit, changed, remote)
