"""The client floor: what a resident's or an auditor's program needs to talk to a node.

It imports only :mod:`ledger`, :mod:`voting` and :mod:`funds`, never the server (``node``):
the HTTP client (:mod:`client.http`), signed committee requests (:mod:`client.signing`),
signing and submitting statements (:mod:`client.submit`), gathering a vote receipt's inputs
(:mod:`client.receipts`) and publishing documents (:mod:`client.documents`).
"""
