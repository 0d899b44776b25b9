"""The jupyter_client provisioner of job kernels forked from a template process (see
``core/jobs/forked_kernel.py``); registered as the ``mlinfra-fork-provisioner`` entry point."""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .core.jobs.forked_kernel import LAUNCHER, ForkedProcess, forkable, template_for


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose ``ipykernel_launcher`` kernels are forked from a template."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        if not forkable(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        at = cmd.index(LAUNCHER)
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            pid = template_for(cmd[: at - 1], env).fork(cmd[at + 1 :], cwd, env)
        except Exception as exc:  # e.g. jupyter_mlinfra missing from the kernel's Python
            self.log.warning(
                "jupyter_mlinfra: cannot fork the kernel (%s); starting it as a new process", exc
            )
            return await super().launch_kernel(cmd, **kwargs)
        # ForkedProcess has the part of Popen that LocalProvisioner uses (poll, wait, pid...)
        self.process = ForkedProcess(pid)  # type: ignore[assignment]
        self.pid = self.pgid = pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        await super().kill(restart)
        if isinstance(self.process, ForkedProcess):
            self.process.wait_killed()
