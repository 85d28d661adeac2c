"""The `analysis` and `compute` blocks: their bounds, the device names, and the retired fields
refused with their reason and what to write instead."""

from __future__ import annotations

import pytest
from helpers import BASE, errors

from reprdyn.spec import validate_text


@pytest.mark.parametrize(
    "line, message",
    [
        ("compute: {batch_size: 32}", "compute.batch_size is no longer used"),
        ("compute: {address: 'tcp://h:8786'}", "--dask tcp://h:8786 (or set REPRDYN_DASK_ADDRESS"),
        ("compute: {device: gpu}", "unknown device 'gpu'; expected auto, cpu, mps, cuda or cuda:N"),
        ("analysis: {confidence: 1.5}", "analysis.confidence"),
    ],
)
def test_refused_settings_say_why(line, message):
    assert message in errors(BASE + line + "\n")[0]


@pytest.mark.parametrize("device", ["auto", "cpu", "mps", "cuda", "cuda:1"])
def test_device_names(device):
    assert validate_text(BASE + f"compute: {{device: {device}}}\n").compute.device == device
