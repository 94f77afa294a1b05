"""The gRPC edge: one servicer per proto service, translating proto ⇄ core calls, plus the
interceptor (authentication, error mapping), the server factory and the process launcher."""
