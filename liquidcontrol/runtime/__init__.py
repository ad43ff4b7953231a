"""Deploy-side inference: run a policy bundle with numpy + onnxruntime only.

Nothing here imports torch, onnx or mujoco, so a robot needs only
``pip install liquidcontrol`` (whose hard dependencies are numpy and
onnxruntime). See :class:`PolicyRunner`.
"""

from liquidcontrol.runtime.card import PolicyCard, load_card
from liquidcontrol.runtime.pretrained import available_pretrained, pretrained
from liquidcontrol.runtime.runner import PolicyRunner

__all__ = ["PolicyCard", "PolicyRunner", "available_pretrained", "load_card", "pretrained"]
