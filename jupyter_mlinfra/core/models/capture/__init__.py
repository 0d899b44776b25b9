"""Capture of what a model version keeps, one module per kind: the definition, the serialized
parameters, the functions and their source, the dependencies, the data fingerprints, the
generating code, the figures and files, and the signature.

Everything here is plain Python and runs in the user's process (the kernel); nothing here
talks to the catalog or the artifact store. The kernel door passes what only the kernel
knows (the cell history, provenance) through :class:`SessionContext`. The registration
pipeline (``..pipeline``) puts the steps together into one ``CapturedVersion``.
"""

from __future__ import annotations

from .code import generating_code, git_state, injected_parameters, replay_script
from .context import SessionContext
from .data import fingerprint_data, fingerprint_datasets
from .definition import describe_definition, distribution_version, library_of
from .dependencies import (
    capture_dependencies,
    dependency_parts,
    environment_differences,
    environment_lock,
)
from .figures import experiment_parts, render_figures
from .functions import capture_functions, function_source, serialize_function
from .serializers import SerializedPart, deserialize, deserialize_file, serialize_model
from .signature import infer_signature, missing_columns, signature_of

__all__ = [
    "SessionContext",
    "SerializedPart",
    "describe_definition",
    "distribution_version",
    "library_of",
    "serialize_model",
    "deserialize",
    "deserialize_file",
    "capture_functions",
    "function_source",
    "serialize_function",
    "capture_dependencies",
    "dependency_parts",
    "environment_differences",
    "environment_lock",
    "fingerprint_data",
    "fingerprint_datasets",
    "generating_code",
    "git_state",
    "injected_parameters",
    "replay_script",
    "experiment_parts",
    "render_figures",
    "infer_signature",
    "missing_columns",
    "signature_of",
]
