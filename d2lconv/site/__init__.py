"""The book site: every chapter once, with each backend's outputs in tabs under its code cells.

``merge`` folds the per-backend executed notebooks of a chapter into one notebook, ``index``
writes the chapters x backends page, ``tabs`` is the Sphinx extension that turns the per-backend
outputs into synced tab-sets, ``sphinx_conf`` the Sphinx settings (MathJax served from the site
itself, so math renders offline), ``build`` runs Sphinx into the build directory atomically.
"""
