using FleetAspire.Data;
using FleetAspire.Pool.Application;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>The pool from the legacy pool table, while it is authoritative (ids are pool row ids).</summary>
public sealed class LegacyPoolReads(FleetDbContext db) : IPoolReads
{
    public async Task<IReadOnlyDictionary<string, int>> CountsAsync(CancellationToken cancellationToken) =>
        await db.ParkedMachines.AsNoTracking().GroupBy(p => p.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);

    public async Task<IReadOnlyList<PoolMachineView>> PageAsync(string? status, string? after, int take, CancellationToken cancellationToken) =>
        await db.ParkedMachines.AsNoTracking()
            .Where(p => (status == null || p.Status == status) && (after == null || string.Compare(p.Id, after) > 0))
            .OrderBy(p => p.Id).Take(take + 1)
            .Select(p => new PoolMachineView(p.Id, p.MachineId, p.MachineName, p.Ipv4, p.Status, p.CreatedAt))
            .ToListAsync(cancellationToken);
}
