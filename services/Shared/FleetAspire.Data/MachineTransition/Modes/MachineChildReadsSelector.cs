using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.Reads;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Picks where a machine's snapshots and health checks are read from, by the migration phase — and offers what a read
/// served for a shadow comparison of its links (sampled; never on the request path).
/// </summary>
public sealed class MachineChildReadsSelector(TransitionModeResolver modes, FleetDbContext db, ShadowCompareQueue shadow) : IReads<IMachineChildReads>
{
    public async Task<IMachineChildReads> CurrentAsync() =>
        (await modes.ForReadAsync()).ReadMachine ? new MachineChildReads(db) : new LegacyMachineChildReads(db);

    /// <param name="entity"><see cref="ServedEntities.Snapshots"/> or <see cref="ServedEntities.HealthChecks"/>.</param>
    public async Task ServedAsync(string entity, IReadOnlyCollection<string> ids)
    {
        if (ids.Count > 0)
        {
            shadow.Offer(await modes.CurrentAsync(), MachineShadow.Children(entity, ids));
        }
    }
}
