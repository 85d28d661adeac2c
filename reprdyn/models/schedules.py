"""The noise schedules the models use; defined in `reprdyn.schedules`, which the spec reads too."""

from ..schedules import EDMSchedule, VPSchedule

__all__ = ["EDMSchedule", "VPSchedule"]
