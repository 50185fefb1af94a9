"""The reference branch case-management system: its own database, its own case numbers, officers
and enforcement lifecycle, joined to the exchange through folders (``aedx.sim.adapter``)."""

from aedx.sim.branch.system import BranchSystem

__all__ = ["BranchSystem"]
