"""Evidence requests (EIO, MLA, EPOC, ...) and the evidence items received against them."""
