"""Running a session of cells in the test process's IPython shell with the recorder on."""

from __future__ import annotations

from jupyter_mlinfra.kernel.provenance_recorder import ProvenanceRecorder


def record_session(shell, name: str, runs):
    """Run ``runs`` ((cell id, source) in execution order) in a reset ``shell`` with a
    recorder that keeps everything in memory; returns (the execution log, the live names)."""
    shell.reset(new_session=False)
    rec = ProvenanceRecorder(
        shell, notebook_path=f"/nb/{name}.ipynb", write_to_catalog=False
    ).start()
    try:
        for cell_id, source in runs:
            shell.run_cell(source, cell_id=cell_id, store_history=True)
        return rec.log(), rec.live_names()
    finally:
        rec.stop()
