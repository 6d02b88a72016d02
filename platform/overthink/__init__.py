"""overthink: measure and cure overthinking in o1-like reasoning models, on Ray.

Importing the package is light: no ray, vllm, torch or deepspeed until a stage runs.
"""

__version__ = "0.1.0"
