using FleetAspire.Data.Entities;
using FleetAspire.Data.Reads;

namespace FleetAspire.Data.MachineTransition;

/// <summary>Children of a machine by the legacy string id they carry, while the legacy side is authoritative.</summary>
public sealed class LegacyMachineChildReads(FleetDbContext db) : IMachineChildReads
{
    public Task<IReadOnlyList<MachineSnapshot>> SnapshotsAsync(string machineId, string? ownerId, CancellationToken cancellationToken) =>
        ChildQueries.SnapshotsAsync(db, db.MachineSnapshots.Where(s => s.MachineId == machineId), ownerId, cancellationToken);

    public Task<IReadOnlyList<MachineHealthCheck>> HealthChecksAsync(string machineId, string? ownerId, int take, CancellationToken cancellationToken) =>
        ChildQueries.HealthChecksAsync(db, db.MachineHealthChecks.Where(h => h.MachineId == machineId), ownerId, take, cancellationToken);
}
