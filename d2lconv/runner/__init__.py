"""The chapter runner: execute chapters in Jupyter kernels (``chapters``), the matrix of chapters x
backends (``matrix``, locally or on Dask: ``distributed``), agreement across backends and
environments (``agreement``, ``merged``), and the ``run``/``matrix``/``compare`` commands (``cli``)."""
