"""Generated protobuf and gRPC code for the T-Invest contract subset (never edited by hand)."""
