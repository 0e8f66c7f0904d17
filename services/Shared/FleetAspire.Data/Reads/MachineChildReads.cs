using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Reads;

/// <summary>
/// Children of the Machine whose legacy id (or Machine id) is given, by the relation — a destroyed machine's too: its
/// snapshots are what its tombstone is kept for.
/// </summary>
public sealed class MachineChildReads(FleetDbContext db) : IMachineChildReads
{
    private IQueryable<Machine> Named(string machineId) =>
        db.Machines.IgnoreQueryFilters().Where(m => m.LegacyId == machineId || m.Id == machineId);

    public Task<IReadOnlyList<MachineSnapshot>> SnapshotsAsync(string machineId, string? ownerId, CancellationToken cancellationToken) =>
        ChildQueries.SnapshotsAsync(db, db.MachineSnapshots.Where(s => Named(machineId).Any(m => m.Id == s.MachineRef)), ownerId, cancellationToken);

    public Task<IReadOnlyList<MachineHealthCheck>> HealthChecksAsync(string machineId, string? ownerId, int take, CancellationToken cancellationToken) =>
        ChildQueries.HealthChecksAsync(db, db.MachineHealthChecks.Where(h => Named(machineId).Any(m => m.Id == h.MachineRef)), ownerId, take,
            cancellationToken);
}
