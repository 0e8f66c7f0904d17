using FleetAspire.Data;
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
