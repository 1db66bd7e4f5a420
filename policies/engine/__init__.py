"""The engine: recognise an MCP workload, run the policies it is given in their modes, decide.

Pure: no I/O, no globals that change, no clock. It sits below the policies: `decide`, `evaluate` and
`admit` take the policies and an EngineConfig as input, and nothing here imports a policy or the
catalogue (policies/registry.py, policies/catalogue.py bind the registered ones). The other modules are
the vocabulary the policy files speak.
"""

from mcp_admission.policies.engine.admit import admit, admit_workload
from mcp_admission.policies.engine.config import EngineConfig
from mcp_admission.policies.engine.decide import decide, evaluate

__all__ = ["EngineConfig", "admit", "admit_workload", "decide", "evaluate"]
