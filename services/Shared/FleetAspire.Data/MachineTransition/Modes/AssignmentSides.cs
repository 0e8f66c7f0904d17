using FleetAspire.Data.Writes;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>The assignment aggregate (agent ↔ machine), legacy fields or Machine relation.</summary>
public sealed class AssignmentSides(FleetDbContext db, IBatchFence fence) : IStorageSides<IAssignmentWrites>
{
    public IAssignmentWrites Legacy { get; } = new LegacyAssignmentWrites(db, fence);
    public IAssignmentWrites Machine { get; } = new MachineAssignmentWrites(db, fence);
}
