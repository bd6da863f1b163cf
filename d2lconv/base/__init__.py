"""The chapter-neutral base that shared content builds on: the layer base class, input checks,
the compile cache and the initialisers. It knows the backend contract, and no chapter."""
