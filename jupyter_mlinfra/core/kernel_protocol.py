"""The modules of ``jupyter_mlinfra.kernel`` that core names in code it sends to kernels or in
commands it starts. Core never imports them (they need IPython); it only spells their names,
here and nowhere else, so a kernel-side module that moves breaks one line."""

from __future__ import annotations

# The IPython extension (magics, the provenance recorder's hooks).
EXTENSION_MODULE = "jupyter_mlinfra.kernel.extension"
# The kernel's execution recorder: ``get_recorder()``, ``hand_off()``.
RECORDER_MODULE = "jupyter_mlinfra.kernel.provenance_recorder"
# The template process job kernels are forked from (``python -m <it>``).
TEMPLATE_MODULE = "jupyter_mlinfra.kernel.template"
