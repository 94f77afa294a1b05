"""NIJA's domain: framework-free business rules, persistence behind narrow interfaces.

Nothing here imports gRPC or generated proto code; ``nija.services`` translates between the
wire and these modules.
"""
