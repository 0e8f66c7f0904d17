using FleetAspire.Data;
using FleetAspire.Data.MachineTransition;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Machines.Application;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>Custom machine writes while the migration runs: the legacy table, or Machine only.</summary>
public sealed class CustomMachineSides(FleetDbContext db, Data.Writes.IBatchFence fence, TimeProvider time) : IStorageSides<ICustomMachineWrites>
{
    public ICustomMachineWrites Legacy => new LegacyCustomMachineWrites(db, new LegacyAssignmentWrites(db, fence), time);
    public ICustomMachineWrites Machine => new CustomMachineWrites(db, new Data.Writes.MachineAssignmentWrites(db, fence), time);
}
