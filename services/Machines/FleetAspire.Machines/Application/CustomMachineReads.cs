using FleetAspire.Data;
using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Machines.Application;

/// <summary>The steady state: custom machines are <c>Machine</c> rows of type custom; the holder is the agent whose relation points at it.</summary>
public sealed class CustomMachineReads(FleetDbContext db) : ICustomMachineReads
{
    // Filters apply to the entity, then the projection: EF cannot translate members of a constructed record.
    private IQueryable<CustomMachineView> Project(IQueryable<Machine> machines) =>
        machines.Select(m => new CustomMachineView(m.LegacyId, m.Ipv4, m.Port, m.UserId!,
            db.Agents.Where(a => a.MachineRef == m.Id).Select(a => a.Id).FirstOrDefault(),
            m.Os, m.Arch, m.CpuCount, m.MemoryGb, m.SharedKey, m.CreatedAt, m.LastSeenAt));

    private IQueryable<Machine> Owned(string? owner) =>
        db.Machines.AsNoTracking().Where(m => m.Type == MachineTypes.Custom && (owner == null || m.UserId == owner));

    public Task<CustomMachineView?> FindAsync(string id, string? owner, CancellationToken cancellationToken) =>
        Project(Owned(owner).Where(m => m.LegacyId == id)).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<CustomMachineView>> PageAsync(string? owner, string? after, int take, CancellationToken cancellationToken) =>
        await Project(Owned(owner).Where(m => after == null || string.Compare(m.LegacyId, after) > 0).OrderBy(m => m.LegacyId).Take(take + 1))
            .ToListAsync(cancellationToken);
}
