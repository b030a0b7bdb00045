"""The demo community behind ``civic demo``: sample data built and nodes started locally.

It is made through the same code paths as a real community (key files, genesis, signed
statements through the sequencer, documents into the store), so it imports the server
(``node``) to build and start the nodes; nothing else in the project imports it.
"""

from demo.community import DEMO_ORIGIN, DEMO_PASSPHRASE, build_demo, start_demo_nodes

__all__ = ["DEMO_ORIGIN", "DEMO_PASSPHRASE", "build_demo", "start_demo_nodes"]
