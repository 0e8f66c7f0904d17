using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Names;
using FleetAspire.Pool.Application;

namespace FleetAspire.Pool.MachineTransition;

internal static class PoolTransition
{
    /// <summary>
    /// The pool's part in the migration: the phase machinery, and its decorators registered over the steady-state
    /// storage. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddPoolTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Pool);
        // Over the steady-state registrations (made before this): the phase picks the side per read.
        builder.Services.AddScoped<MachinePoolReads>();
        builder.Services.AddScoped<LegacyPoolReads>();
        builder.Services.AddScoped<IPoolReads, PhasePoolReads>();
        builder.Services.AddScoped<IStorageSides<IPoolWrites>, PoolSides>();
        builder.Services.AddScoped<IPoolWrites, PhasePoolWrites>();
    }
}
