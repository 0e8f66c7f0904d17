using FleetAspire.Data;
using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.Application;

/// <summary>
/// The steady state: the pool is the hetzner machines no agent holds. Ids are Machine ids; a server whose create call
/// has not answered yet has no Machine (it has no provider id) and appears once it does.
/// </summary>
public sealed class MachinePoolReads(FleetDbContext db) : IPoolReads
{
    private IQueryable<Machine> Pool() =>
        db.Machines.AsNoTracking().Where(m => m.Type == MachineTypes.Hetzner
            && (m.Status == MachineStatus.Launching || m.Status == MachineStatus.Ready)
            && !db.Agents.Any(a => a.MachineRef == m.Id));

    public async Task<IReadOnlyDictionary<string, int>> CountsAsync(CancellationToken cancellationToken) =>
        await Pool().GroupBy(m => m.Status).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);

    public async Task<IReadOnlyList<PoolMachineView>> PageAsync(string? status, string? after, int take, CancellationToken cancellationToken) =>
        await Pool().Where(m => (status == null || m.Status == status) && (after == null || string.Compare(m.Id, after) > 0))
            .OrderBy(m => m.Id).Take(take + 1)
            .Select(m => new PoolMachineView(m.Id, m.HetznerMachineId, m.Name, m.Ipv4, m.Status, m.CreatedAt))
            .ToListAsync(cancellationToken);
}
