"""Sphinx settings of the book site; the generated ``conf.py`` star-imports this module.

Nothing is executed (``nb_execution_mode = "off"``): pages show the outputs the chapter runs
stored. MathJax comes from the site's own ``_static/mathjax`` (copied in by ``build``), so math
renders with no network.
"""

project = "d2lconv"
author = "the d2lconv authors"
copyright = "the d2lconv authors"

extensions = ["myst_nb", "sphinx_design", "d2lconv.site.tabs"]

nb_execution_mode = "off"
nb_merge_streams = True  # one block per stdout/stderr run, as a reader expects
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_mathjax"]

html_static_path = ["_static", "_mathjax"]  # _mathjax/mathjax/ lands in _static/mathjax/
html_css_files = ["d2lconv.css"]
html_js_files = ["d2lconv-fit-math.js"]  # written by build: long equations fit the column
mathjax_path = "mathjax/tex-chtml.js"  # relative: served from _static/, never a CDN
mathjax3_config = {
    # the speech explorer would load sre/, which is not copied: keep it off
    "options": {"menuOptions": {"settings": {"assistiveMml": True, "explorer": False}}},
}

html_theme = "sphinx_book_theme"
html_title = "d2lconv"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    "show_prev_next": True,
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
sd_tabs_storage_prefix = "d2lconv-tab-"  # localStorage key: d2lconv-tab-backend = "torch"
suppress_warnings = ["mystnb.unknown_mime_type"]
