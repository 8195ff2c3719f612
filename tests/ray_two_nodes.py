"""A two-node Ray cluster on this machine's loopback, for tests/test_ray.py (not a test).

Run as a script: starts a head node and a second node (one CPU each, every address on
127.0.0.1), prints {"address", "head", "node2"} as one JSON line, then reads commands on
stdin: `kill` kills the second node (its raylet and workers, at once, as a lost machine),
`quit` (or the end of stdin) shuts the cluster down.
"""

import json
import os
import sys

# Ray turns 127.0.0.1 into the machine's outward address unless told that this "cluster"
# is one machine; every process of it, the test's sweep too, then stays on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

from ray.cluster_utils import Cluster  # noqa: E402

STORE = 80 * 1024 * 1024  # the object store holds only Hydra's small job payloads

cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "include_dashboard": False, "object_store_memory": STORE})
node2 = cluster.add_node(num_cpus=1, object_store_memory=STORE)
print(json.dumps({"address": cluster.address, "head": cluster.head_node.node_id,
                  "node2": node2.node_id}), flush=True)
try:
    for line in sys.stdin:
        if line.strip() == "kill":
            cluster.remove_node(node2, allow_graceful=False)
            print("killed", flush=True)
        elif line.strip() == "quit":
            break
finally:
    cluster.shutdown()
