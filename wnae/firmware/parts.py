"""FPGA part capacities (LUT, FF, DSP, BRAM, URAM) from the vendors' data sheets, by device name.

Example:
    >>> part_capacity("xc7vx690tffg1927-2").lut
    433200
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PART_CAPACITIES", "PartCapacity", "part_capacity", "same_part"]


@dataclass(frozen=True)
class PartCapacity:
    """Resources of one FPGA device (all packages and speed grades of it).

    Attributes:
        device: device name without package and speed grade, e.g. ``xc7vx690t``.
        lut: 6-input LUTs (CLB/slice LUTs).
        ff: flip-flops (CLB/slice registers).
        dsp: DSP slices (DSP48E1 on 7 series, DSP48E2 on UltraScale+).
        bram_18k: 18 Kb block-RAM halves (two per 36 Kb block RAM tile), the unit Vivado HLS uses.
        uram: 288 Kb UltraRAM blocks (0 on 7-series devices).
        source: where the numbers come from.
    """

    device: str
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int
    source: str

    def available(self, resource: str) -> int:
        """Capacity for ``resource`` (one of ``lut ff dsp bram_18k uram``)."""
        return int(getattr(self, resource))


_DS180 = "Xilinx DS180, 7 Series FPGAs Data Sheet: Overview (device table)"
_DS890 = "Xilinx DS890, UltraScale Architecture and Product Data Sheet: Overview (Virtex UltraScale+ table)"

#: Capacities by device name. LUT/FF/DSP/BRAM_18K/URAM; a 36 Kb BRAM counts as two BRAM_18K.
PART_CAPACITIES: dict[str, PartCapacity] = {
    # Run-3 CMS Global Trigger (MP7 board): 108,300 slices x 4 LUTs, 1,470 x 36 Kb BRAM.
    "xc7vx690t": PartCapacity("xc7vx690t", 433_200, 866_400, 3_600, 2_940, 0, _DS180),
    # Phase-2 L1 trigger boards (APx, Serenity): 2,688 x 36 Kb BRAM, 1,280 URAM.
    "xcvu13p": PartCapacity("xcvu13p", 1_728_000, 3_456_000, 12_288, 5_376, 1_280, _DS890),
    # Govorkova et al. 2022 (arXiv:2108.03986) quote their resources on a VU9P.
    "xcvu9p": PartCapacity("xcvu9p", 1_182_240, 2_364_480, 6_840, 4_320, 960, _DS890),
    # The part of the Vivado HLS 2020.1 report fixture (Zynq-7020); equals that report's AvailableResources.
    "xc7z020": PartCapacity("xc7z020", 53_200, 106_400, 220, 280, 0, _DS180),
}


def _normalise_part(part: str) -> str:
    return part.strip().lower().replace("-", "")


def part_capacity(part: str) -> PartCapacity | None:
    """The capacities of the device of ``part``, or ``None`` if it is not in :data:`PART_CAPACITIES`.

    Package, speed grade and dashes are ignored: ``xc7z020clg400-1`` and ``xc7z020-clg400-1`` (as
    Vivado HLS writes it in its reports) both give the ``xc7z020`` entry.

    Example:
        >>> part_capacity("xc7z020-clg400-1").lut
        53200
        >>> part_capacity("xc7k325t") is None
        True
    """
    norm = _normalise_part(part)
    matches = [device for device in PART_CAPACITIES if norm.startswith(device)]
    if not matches:
        return None
    return PART_CAPACITIES[max(matches, key=len)]


def same_part(a: str, b: str) -> bool:
    """Whether two part names name the same part (case and dashes ignored)."""
    return _normalise_part(a) == _normalise_part(b)
