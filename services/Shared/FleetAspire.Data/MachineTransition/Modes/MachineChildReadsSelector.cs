using FleetAspire.Data.Reads;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>Picks where a machine's snapshots and health checks are read from, by the migration phase.</summary>
public sealed class MachineChildReadsSelector(TransitionModeResolver modes, FleetDbContext db)
{
    public async Task<IMachineChildReads> CurrentAsync() =>
        (await modes.ForReadAsync()).ReadMachine ? new MachineChildReads(db) : new LegacyMachineChildReads(db);
}
