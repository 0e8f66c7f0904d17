using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Reads;

/// <summary>What a child read does once its machine's rows are named: visibility, order and page, in one place.</summary>
public static class ChildQueries
{
    public static async Task<IReadOnlyList<MachineSnapshot>> SnapshotsAsync(FleetDbContext db, IQueryable<MachineSnapshot> ofMachine, string? ownerId,
        CancellationToken cancellationToken) =>
        await ofMachine.AsNoTracking()
            .Where(s => ownerId == null || s.UserId == ownerId)
            .OrderByDescending(s => s.CreatedAt)
            .ToListAsync(cancellationToken);

    public static async Task<IReadOnlyList<MachineHealthCheck>> HealthChecksAsync(FleetDbContext db, IQueryable<MachineHealthCheck> ofMachine,
        string? ownerId, int take, CancellationToken cancellationToken) =>
        await ofMachine.AsNoTracking()
            .Where(h => ownerId == null || db.Agents.Any(a => a.Id == h.AgentId && a.UserId == ownerId))
            .OrderByDescending(h => h.CheckedAt).ThenByDescending(h => h.Id)
            .Take(take)
            .ToListAsync(cancellationToken);
}
