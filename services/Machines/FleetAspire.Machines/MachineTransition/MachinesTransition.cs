using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Machines.Application;
using FleetAspire.Names;

namespace FleetAspire.Machines.MachineTransition;

internal static class MachinesTransition
{
    /// <summary>
    /// The machines service's part in the migration: the phase machinery, and its decorators registered over the
    /// steady-state storage. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddMachinesTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Machines);
        // Over the steady-state registrations (made before this): the phase picks the side per read.
        builder.Services.AddScoped<CustomMachineReads>();
        builder.Services.AddScoped<LegacyCustomMachineReads>();
        builder.Services.AddScoped<ICustomMachineReads, PhaseCustomMachineReads>();
        builder.Services.AddScoped<IStorageSides<ICustomMachineWrites>, CustomMachineSides>();
        builder.Services.AddScoped<ICustomMachineWrites, PhaseCustomMachineWrites>();
    }
}
