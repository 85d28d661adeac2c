"""The noise schedules the models use; defined in `reprdyn.schedules`, which the spec reads too."""

from ..schedules import EDMSchedule, FlowSchedule, VPSchedule

__all__ = ["EDMSchedule", "FlowSchedule", "VPSchedule"]
