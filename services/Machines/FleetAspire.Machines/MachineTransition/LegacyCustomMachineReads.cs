using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.Reads;
using LegacyCustomMachine = FleetAspire.Data.Entities.CustomMachine;
using FleetAspire.Machines.Application;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.MachineTransition;

/// <summary>Custom machines from the legacy table, while it is authoritative.</summary>
public sealed class LegacyCustomMachineReads(FleetDbContext db) : ICustomMachineReads
{
    private static IQueryable<CustomMachineView> Project(IQueryable<LegacyCustomMachine> machines) =>
        machines.Select(c => new CustomMachineView(c.Id, c.Ipv4, c.Port, c.UserId, c.CurrentAgentId, c.Os, c.Arch, c.CpuCount, c.MemoryGb,
            c.SharedKey, c.CreatedAt, c.UpdatedAt));

    private IQueryable<LegacyCustomMachine> Owned(string? owner) =>
        db.CustomMachines.AsNoTracking().Where(c => owner == null || c.UserId == owner);

    public Task<CustomMachineView?> FindAsync(string id, string? owner, CancellationToken cancellationToken) =>
        Project(Owned(owner).Where(c => c.Id == id)).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<CustomMachineView>> PageAsync(string? owner, string? after, int take, CancellationToken cancellationToken) =>
        await Project(Owned(owner).Where(c => after == null || string.Compare(c.Id, after) > 0).OrderBy(c => c.Id).Take(take + 1))
            .ToListAsync(cancellationToken);
}

/// <summary>
/// The one place in the machines service that picks where custom machines are read from, by the migration phase — and
/// that offers what a read served for a shadow comparison with the other side (sampled; never on the request path).
/// </summary>
public sealed class CustomMachineReadsSelector(TransitionModeResolver modes, FleetDbContext db, ShadowCompareQueue shadow) : IReads<ICustomMachineReads>
{
    public async Task<ICustomMachineReads> CurrentAsync() =>
        (await modes.ForReadAsync()).ReadMachine ? new CustomMachineReads(db) : new LegacyCustomMachineReads(db);

    /// <summary>Custom machine ids (their legacy ids) a read served: both sides compared, shared keys by fingerprint.</summary>
    public async Task ServedAsync(string entity, IReadOnlyCollection<string> ids)
    {
        if (ids.Count > 0)
        {
            shadow.Offer(await modes.CurrentAsync(), MachineShadow.Machines(ids));
        }
    }
}
