"""The CNN chapter's content, written once: convolutions, padding and stride, channels, pooling."""
