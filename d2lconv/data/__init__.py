"""Data for the chapters: d2l's DataModule, one numpy loader for every backend, Fashion-MNIST and MNIST."""
