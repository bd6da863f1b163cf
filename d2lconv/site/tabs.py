"""Sphinx extension: each code cell's per-backend output cells become one sphinx-design tab-set.

The merged notebook (``merge.merge_chapter``) holds, after every code cell, one output-only cell
per backend (cell metadata ``{"d2lconv": {"backend": "torch"}}``). myst-nb renders each with its
own renderers (streams, errors, images). This transform wraps each run of such cells into the
nodes sphinx-design's ``tab-set``/``tab-item`` directives make, with one sync group, so
sphinx-design's JavaScript keeps the chosen backend across cells, pages (localStorage) and the
URL (``?backend=torch``). It builds sphinx-design's nodes directly, hence the pinned version range.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_design.shared import create_component

from ..backend import display_name

SYNC_GROUP = "backend"


def _backend(node: nodes.Node | None) -> str | None:
    if isinstance(node, nodes.container) and node.get("nb_element") == "cell_code":
        return (node.get("cell_metadata") or {}).get("d2lconv", {}).get("backend")
    return None


class BackendTabs(SphinxTransform):
    """Group consecutive per-backend output cells into a tab-set."""

    default_priority = 500  # after parsing; sphinx-design's HTML post-transform runs later

    def apply(self, **kwargs: Any) -> None:
        firsts = [n for n in self.document.findall(nodes.container)
                  if _backend(n) and not _backend(n.previous_sibling())]
        for first in firsts:
            group, node = [], first
            while node is not None and _backend(node):
                group.append(node)
                node = node.next_node(descend=False, siblings=True, ascend=False)
            parent = first.parent
            index = parent.index(first)
            for cell in group:
                parent.remove(cell)
            tab_set = create_component("tab-set", classes=["sd-tab-set", "d2l-backend-tabs"])
            for cell in group:
                backend = _backend(cell)
                title = display_name(backend)
                item = create_component("tab-item", classes=["sd-tab-item"], selected=cell is group[0])
                label = nodes.rubric(title, title, classes=["sd-tab-label"])
                label["sync_id"], label["sync_group"] = backend, SYNC_GROUP
                content = create_component("tab-content", classes=["sd-tab-content"])
                if any(isinstance(c, nodes.container) and c.get("nb_element") == "cell_code_output"
                       for c in cell.children):
                    content += cell
                else:  # printed nothing here on this backend, or never reached the cell
                    note = cell["cell_metadata"]["d2lconv"].get("note", "(no output)")
                    content += nodes.paragraph(note, note, classes=["d2l-no-output"])
                item += label
                item += content
                tab_set += item
            parent.insert(index, tab_set)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_design")
    app.add_transform(BackendTabs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
