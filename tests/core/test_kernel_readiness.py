"""A run's kernel counts as ready once it answered kernel_info and its IOPub carried that
request's idle status (core/notebook_execution.py: wait_until_ready): what the first cell
prints is never lost, and a kernel that dies while starting is an error, not a hang."""

from __future__ import annotations

import asyncio
import signal

import pytest
from jupyter_client.manager import AsyncKernelManager

from jupyter_mlinfra.core.notebook_execution import wait_until_ready


async def started():
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    return km, kc


def test_the_first_output_after_ready_is_received(mlinfra_env):
    async def go():
        km, kc = await started()
        try:
            await wait_until_ready(kc, 60)
            outputs = []
            reply = await kc.execute_interactive(
                "print('first words')",
                output_hook=lambda m: outputs.append(m),
                timeout=60,
            )
            assert reply["content"]["status"] == "ok"
            text = "".join(
                m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"
            )
            assert text == "first words\n"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(go())


def test_a_kernel_that_dies_while_starting_is_an_error(mlinfra_env):
    async def go():
        km, kc = await started()
        try:
            await km.signal_kernel(signal.SIGKILL)
            with pytest.raises(RuntimeError, match="died|respond"):
                await wait_until_ready(kc, 30)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(go())
