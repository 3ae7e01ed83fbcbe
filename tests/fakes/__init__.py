"""Local fakes of remote services, driven through their real clients in tests and benchmarks."""
