"""Hints that rest on evidence: an exception's text and the student's own line that raised it.

Only what the error itself proves is said (a tensor was put on a GPU the grader does not have,
two tensors of different dtypes met in one operation); when the text matches nothing known, no
hint is given and the student reads the error as it is.
"""
from __future__ import annotations

import re

__all__ = ["device_or_dtype_hint", "last_student_line"]

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([^\n]+)\n(?:    ([^\n]*)\n)?')

_NO_GPU = ("found no nvidia driver", "torch not compiled with cuda enabled", "no cuda gpus are available",
           "cuda driver initialization failed", "cuda is not available", "invalid device ordinal",
           "cannot access accelerator device when none is available",
           "attempting to deserialize object on a cuda device")
_TWO_DEVICES = ("expected all tensors to be on the same device", "found at least two devices")
_TWO_DTYPES = ("to have the same dtype", "expected scalar type", "expected both vectors to have same dtype",
               "can't be cast to the desired output type", "found dtype", "must have the same dtype",
               "expected mat1 and mat2 to have the same dtype", "should be the same dtype")


def last_student_line(traceback_text: str) -> tuple[str, int, str] | None:
    """(file, line number, code) of the innermost frame in the student's files, from the traceback the
    sandbox sends (it holds only frames of the student's own files)."""
    frames = _FRAME.findall(traceback_text or "")
    if not frames:
        return None
    file, line, _func, code = frames[-1]
    return file, int(line), code.strip()


def device_or_dtype_hint(message: str, traceback_text: str, *, grading_device: str = "cpu",
                         autograd_off: bool = False) -> str:
    """A sentence naming a device or dtype mistake that ``message`` proves, or "". ``autograd_off``:
    the grader made the call under ``torch.no_grad()`` (a part that computes gradients by hand)."""
    text = (message or "").lower()
    where = last_student_line(traceback_text)
    at = f" (line {where[1]}: `{where[2]}`)" if where and where[2] else (f" (line {where[1]})" if where else "")
    if "does not require grad" in text or "autograd switched off" in text:
        if autograd_off:
            return (f"Autograd was needed{at}, but this part computes gradients by hand: the grader calls your "
                    "losses with autograd switched off (torch.no_grad()), so .backward() and torch.autograd "
                    "cannot work here. Derive dW from the loss yourself.")
        return (f"Autograd was asked for the gradient of a tensor that does not depend on anything that "
                f"requires a gradient{at}: the loss is not connected to the model's parameters.")
    if any(p in text for p in _NO_GPU):
        return (f"Your code asks for a CUDA GPU{at}, but the grader runs it on the {grading_device.upper()}, "
                "where there is none. Do not name a device: create tensors on the inputs' device "
                "(device=X.device, torch.zeros_like(X)) and leave .cuda() / .to('cuda') to the notebook.")
    if any(p in text for p in _TWO_DEVICES):
        return (f"Two tensors on different devices met in one operation{at}. Create every new tensor on the "
                "inputs' device (device=X.device, torch.zeros_like(...)) instead of a fixed one.")
    if any(p in text for p in _TWO_DTYPES):
        return (f"Two tensors of different dtypes met in one operation{at}. The grader also calls your code "
                "with float32 inputs: create new tensors with the inputs' dtype (dtype=X.dtype, "
                "torch.zeros_like(...), mask.to(X.dtype)) rather than .double() / .float() or a fixed dtype.")
    return ""
