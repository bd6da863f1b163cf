"""Training, written once for every backend: d2l 1.0's ``Module``, ``Classifier``, ``Trainer``,
``HyperParameters`` and ``ProgressBoard``, with the step a pure function of the parameters."""
