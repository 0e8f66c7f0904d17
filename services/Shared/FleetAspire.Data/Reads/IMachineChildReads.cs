using FleetAspire.Data.Entities;

namespace FleetAspire.Data.Reads;

/// <summary>
/// Snapshots and health checks of one machine, named by its legacy id (provider id or custom machine id — what
/// clients have always passed). Read untracked, newest first.
/// </summary>
public interface IMachineChildReads
{
    /// <param name="ownerId">Only snapshots this user took; null for all (operators).</param>
    Task<IReadOnlyList<MachineSnapshot>> SnapshotsAsync(string machineId, string? ownerId, CancellationToken cancellationToken);

    /// <param name="ownerId">Only checks of this user's agents; null for all (operators).</param>
    Task<IReadOnlyList<MachineHealthCheck>> HealthChecksAsync(string machineId, string? ownerId, int take, CancellationToken cancellationToken);
}
