"""liquidcontrol: tiny, robust liquid neural network controllers for robots.

Sub-packages:

- ``liquidcontrol.policies`` — CfC / LTC cells, NCP wirings, baselines (torch).
- ``liquidcontrol.envs`` — MuJoCo tasks and their scripted experts.
- ``liquidcontrol.train`` — demonstrations, behaviour cloning, DAgger.
- ``liquidcontrol.perturb`` — named perturbations with severities 0-5.
- ``liquidcontrol.evaluate`` — rollouts, metrics, reports.
- ``liquidcontrol.export`` — ONNX export and policy bundles.
- ``liquidcontrol.runtime`` — numpy + onnxruntime inference, no torch.

Importing ``liquidcontrol`` itself pulls in nothing heavy, so the runtime
works on a robot that has only numpy and onnxruntime.
"""

from liquidcontrol.errors import LiquidControlError

__version__ = "0.1.0"
__all__ = ["LiquidControlError", "__version__"]
