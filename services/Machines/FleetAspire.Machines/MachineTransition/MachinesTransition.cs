using FleetAspire.Data;
using FleetAspire.Data.MachineTransition;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.Reads;
using FleetAspire.Machines.Application;
using FleetAspire.Names;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>Custom machine writes while the migration runs: the legacy table, or Machine only.</summary>
public sealed class CustomMachineSides(FleetDbContext db, Data.Writes.IBatchFence fence, TimeProvider time) : IStorageSides<ICustomMachineWrites>
{
    public ICustomMachineWrites Legacy => new LegacyCustomMachineWrites(db, new LegacyAssignmentWrites(db, fence), time);
    public ICustomMachineWrites Machine => new CustomMachineWrites(db, new Data.Writes.MachineAssignmentWrites(db, fence), time);
}

internal static class MachinesTransition
{
    /// <summary>
    /// The machines service's part in the migration: the phase machinery, and its selectors registered over the
    /// steady-state storage. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddMachinesTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Machines);
        builder.Services.AddScoped<CustomMachineReadsSelector>();
        builder.Services.AddScoped<IReads<ICustomMachineReads>>(sp => sp.GetRequiredService<CustomMachineReadsSelector>());
        builder.Services.AddScoped<IStorageSides<ICustomMachineWrites>, CustomMachineSides>();
    }
}
