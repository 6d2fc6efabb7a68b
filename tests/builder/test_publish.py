"""`essays publish` against a local bare repository (builder/publish.py)."""

import subprocess

import pytest

from builder.cli import main
from builder.publish import PublishError, publish


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(project, monkeypatch, tmp_path_factory):
    """The project as a git checkout with one commit, its origin a bare repository."""
    bare = tmp_path_factory.mktemp("origin") / "origin.git"
    git("init", "--bare", "-q", str(bare), cwd=bare.parent)
    git("init", "-q", "-b", "main", cwd=project.root)
    for key, value in (("user.name", "A"), ("user.email", "a@example.org")):
        git("config", key, value, cwd=project.root)
    git("remote", "add", "origin", str(bare), cwd=project.root)
    project.write("01-a.md", "# A\n\n<script>\nx = 1\n</script>\n")
    (project.root / ".gitignore").write_text("site/\n.essays-cache/\n")
    git("add", "-A", cwd=project.root)
    git("commit", "-q", "-m", "essays", cwd=project.root)
    monkeypatch.chdir(project.root)
    project.build()
    return project, bare


def test_the_site_becomes_the_branch_on_the_remote_and_the_checkout_is_untouched(repo, capsys):
    project, bare = repo
    status_before = git("status", "--porcelain", cwd=project.root)
    assert main(["publish", str(project.site)]) == 0
    assert capsys.readouterr().out.startswith("committed the site to gh-pages (")
    files = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=bare).splitlines()
    assert {"index.html", "01-a.html", ".nojekyll", "_static/style.css"} <= set(files)
    assert ".essays-site" not in files
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=project.root) == "main"
    assert git("status", "--porcelain", cwd=project.root) == status_before
    # again with nothing changed: no new commit
    tip = git("rev-parse", "gh-pages", cwd=bare)
    assert main(["publish", str(project.site)]) == 0
    assert "gh-pages has this site already" in capsys.readouterr().out
    assert git("rev-parse", "gh-pages", cwd=bare) == tip


def test_a_rebuilt_site_is_a_new_commit_on_top(repo):
    project, bare = repo
    first = publish(project.site, remote=None)
    project.write("02-b.md", "# B\n")
    project.build()
    second = publish(project.site, remote=None, message="two essays")
    assert second.changed and second.commit != first.commit
    assert git("rev-parse", f"{second.commit}^", cwd=project.root) == first.commit
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=project.root) == "two essays"
    assert git("ls-remote", str(bare), cwd=project.root) == ""  # --no-push pushed nothing


def test_a_folder_that_is_not_a_built_site_is_refused(repo):
    project, _ = repo
    with pytest.raises(PublishError, match="not a site built by essays"):
        publish(project.essays, remote=None)
