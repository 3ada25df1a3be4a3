"""Docker-free stand-in for ``sam local``: runs a SAM template in one process on moto.

``LocalStack`` is the entry point; see ``local/runner/stack.py``.
"""

from .cfn import TemplateError
from .stack import DEFAULT_STACK_NAME, LocalStack

__all__ = ["DEFAULT_STACK_NAME", "LocalStack", "TemplateError"]
