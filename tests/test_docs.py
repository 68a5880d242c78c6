"""Every ```python block in README.md and docs/ runs.

The blocks of one file run top to bottom in one namespace (a page builds on its earlier
blocks), in a fresh process, in an empty temporary folder, with the repository root and
``examples/`` importable. Two markers, on a block's first line:

    # docs: skip — <reason>        not run (needs a GPU, takes minutes, ...); the reason is required
    # docs: raises <ExceptionName>  must raise that exception (pages that show an error message)
"""
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"#\s*docs:\s*skip\s*[—-]+\s*(\S.*)")
RAISES = re.compile(r"#\s*docs:\s*raises\s+(\w+)")


def blocks(page):
    """[(line number of the block in the page, code)] of a Markdown file's python blocks."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def run_page(page):
    """Run one page's blocks (in this process); exit status 1 and a message on the first failure."""
    namespace = {"__name__": "__docs__"}
    for line, code in blocks(page):
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        if first.startswith("# docs: skip"):
            if not SKIP.match(first):
                print(f"{page}:{line}: '# docs: skip' needs a reason: '# docs: skip — why'")
                return 1
            continue
        expected = RAISES.match(first)
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as e:
            if expected and type(e).__name__ == expected.group(1):
                continue
            print(f"{page}:{line}: the block raised {type(e).__name__}: {e}")
            traceback.print_exc()
            return 1
        if expected:
            print(f"{page}:{line}: the block should raise {expected.group(1)} but did not")
            return 1
    return 0


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(REPO)))
def test_every_python_block_of_the_page_runs(page, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "examples")]), MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MINIGRAD_QUIET_COMPILE="1")
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(page)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_the_markers_are_read():
    page = Path(__file__).with_name("_docs_marker_check.md")
    try:
        page.write_text("```python\n# docs: skip — needs a GPU\nraise SystemExit(3)\n```\n\n"
                        "```python\n# docs: raises ZeroDivisionError\nx = 1 / 0\n```\n\n"
                        "```python\ny = 2\n```\n```python\nassert y == 2\n```\n", encoding="utf-8")
        assert [line for line, _ in blocks(page)] == [2, 7, 12, 15]
        assert run_page(page) == 0
        page.write_text("```python\n# docs: raises KeyError\nx = 1\n```\n", encoding="utf-8")
        assert run_page(page) == 1
        page.write_text("```python\n# docs: skip\nx = 1\n```\n", encoding="utf-8")
        assert run_page(page) == 1
    finally:
        page.unlink()


if __name__ == "__main__":
    sys.exit(run_page(Path(sys.argv[1])))
