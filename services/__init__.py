"""The JIT platform's services. Each folder is one gRPC service; none imports another's folder."""
